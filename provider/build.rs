//! Compiles the project's own protocol definitions (`proto/`) into tonic server code.
//!
//! Only servers are generated, and every RPC gets a default body answering `Unimplemented`, so the
//! provider implements just the RPCs it supports. `protoc` comes from `protoc-bin-vendored`, which
//! also supplies the well-known types (`google/protobuf/{empty,timestamp}.proto`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let wkt_include = protoc_bin_vendored::include_path()?;
    // tonic-prost-build (prost-build) finds protoc through PROTOC; a build script is single threaded.
    std::env::set_var("PROTOC", protoc);

    let protos = [
        "proto/tfplugin6.proto",
        "proto/grpc_controller.proto",
        "proto/grpc_stdio.proto",
    ]
    .map(PathBuf::from);
    for p in &protos {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:rerun-if-changed=build.rs");

    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .generate_default_stubs(true)
        .compile_protos(&protos, &[PathBuf::from("proto"), wkt_include])?;
    Ok(())
}
