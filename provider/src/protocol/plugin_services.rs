//! go-plugin's own services: `plugin.GRPCController` and `plugin.GRPCStdio`.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::{Request, Response, Status};

use super::proto::plugin::grpc_controller_server::GrpcController;
use super::proto::plugin::grpc_stdio_server::GrpcStdio;
use super::proto::plugin::{Empty, StdioData};

/// `GRPCController/Shutdown`: the host is done with this process. Answers, then cancels `shutdown`,
/// which stops the server (the response is still delivered: tonic drains in-flight calls).
#[derive(Debug, Clone)]
pub struct Controller {
    shutdown: CancellationToken,
}

impl Controller {
    /// A controller that cancels `shutdown` when asked to shut down.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("Shutdown requested by the host");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// `GRPCStdio/StreamStdio`: the host opens it right after connecting. This provider writes its logs
/// to stderr, which the host reads directly, so the stream carries nothing; it stays open until the
/// server shuts down, then ends (so a graceful shutdown is not held up by it).
#[derive(Debug, Clone)]
pub struct Stdio {
    shutdown: CancellationToken,
}

impl Stdio {
    /// A stdio service whose streams end when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<tonic::codegen::BoxStream<StdioData>>, Status> {
        let stream = UntilCancelled {
            cancelled: Box::pin(self.shutdown.clone().cancelled_owned()),
        };
        Ok(Response::new(Box::pin(stream)))
    }
}

/// A stream that yields nothing and ends when its token is cancelled.
struct UntilCancelled {
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Stream for UntilCancelled {
    type Item = Result<StdioData, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.cancelled.as_mut().poll(cx).map(|()| None)
    }
}
