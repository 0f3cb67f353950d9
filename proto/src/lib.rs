//! Generated gRPC code for Berth's API, package `berth.v1`. Only generated code lives here.

/// The `berth` protobuf namespace.
pub mod berth {
    /// Version 1 of the API; see `proto/berth/v1/*.proto` for the documented contract.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("berth.v1");
    }
}

pub use berth::v1;
