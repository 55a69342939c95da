//! `mixpanel-rotator run`: the daemon (leader election, the scheduler, the HTTP server).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::{connect_api, connect_store, make_engine, shutdown_on_signals};
use crate::config::Config;
use crate::election::Elector;
use crate::error::{Result, RotatorError};
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::triggers::Scheduler;

pub async fn run_daemon(config: Config) -> Result<()> {
    let shutdown = shutdown_on_signals();
    let store = connect_store(&config).await?;
    let _renewer = store.spawn_token_renewer();
    let api = loop {
        match connect_api(&config).await {
            Ok(api) => break api,
            Err(RotatorError::Api(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "Mixpanel is unreachable; retrying in 5s");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
            Err(e) => return Err(e),
        }
    };
    let metrics = Arc::new(Metrics::default());
    let engine = make_engine(&config, store.clone(), api.clone(), metrics.clone());
    let scheduler = Scheduler::new(engine);
    let holder = config.holder();
    let elector = Elector::new(
        store.clone(),
        holder.clone(),
        config.election.lease_ttl,
        metrics.clone(),
    );
    let addr = config.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| RotatorError::io(format!("cannot listen on {addr}"), e))?;
    let local = listener.local_addr().map_err(|e| RotatorError::io("", e))?;
    tracing::info!(
        holder = %holder,
        http = %local,
        organization = api.org().0,
        lease_ttl_secs = config.election.lease_ttl.as_secs(),
        "mixpanel-rotator started"
    );
    let http_state = HttpState::new(
        store.clone(),
        api.clone(),
        metrics.clone(),
        scheduler.clone(),
        &elector,
        holder.clone(),
        config.http.token.clone(),
    );
    let http_stop = CancellationToken::new();
    let http_task = tokio::spawn(http::serve(listener, http_state, http_stop.clone()));
    let reviews = tokio::spawn(crate::cmd::review::review_schedule(
        config.clone(),
        store.clone(),
        api.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    // Mixpanel's reachability for /metrics, whether or not anyone asks /readyz.
    let probe = {
        let (api, metrics, stop) = (api.clone(), metrics.clone(), shutdown.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let _ = http::probe_mixpanel(&api, &metrics).await;
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(15)) => {}
                }
            }
        })
    };
    let grants = tokio::spawn(crate::grants::revoke_schedule(
        config.clone(),
        store.clone(),
        api.clone(),
        metrics.clone(),
        elector.subscribe(),
        shutdown.clone(),
    ));
    elector
        .run(shutdown.clone(), |lead| {
            let s = scheduler.clone();
            async move { s.lead(lead).await }
        })
        .await;
    http_stop.cancel();
    reviews.abort();
    probe.abort();
    grants.abort();
    match http_task.await {
        Ok(r) => r?,
        Err(e) => tracing::warn!(error = %e, "the HTTP server task failed"),
    }
    tracing::info!(holder = %holder, "mixpanel-rotator stopped");
    Ok(())
}
