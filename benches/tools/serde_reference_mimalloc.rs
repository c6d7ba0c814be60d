//! The `serde_json::Value` reference (`serde_reference.rs`) with phi-scrub's allocator, so that
//! the two can also be compared on their code alone: `benches/pipelines.sh` runs both.

#[path = "serde_reference.rs"]
mod serde_reference;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::io::Result<()> {
    serde_reference::main()
}
