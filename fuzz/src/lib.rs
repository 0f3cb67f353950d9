//! Helpers shared by Berth's fuzz targets: hostile layer tars built from fuzz input
//! ([`layer`]) and the confined thread the unpacker runs in ([`sandbox`]).

pub mod layer;
pub mod sandbox;
