//! Compiles every `.proto` file under `berth/v1` (package `berth.v1`) with protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new("berth/v1");
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed=berth/v1");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    tonic_prost_build::configure().compile_protos(&files, &[std::path::PathBuf::from(".")])?;
    Ok(())
}
