//! What several CLI tests share: the virtual plant as a peer.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `twin serve-plant`, killed when dropped.
pub struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `twin serve-plant` on the machining cell at 60× real time, serving `proto`
/// ("opcua" or "modbus") on a free loopback port, and waits (at most 30 s) for the tag map it
/// writes to `dir/tags.toml`; its certificate store goes to `dir/pki-plant`.
pub fn serve(proto: &str, dir: &Path) -> Served {
    let tags = dir.join("tags.toml");
    let _ = std::fs::remove_file(&tags);
    let child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "serve-plant",
            "scenarios/samples/machining_cell.toml",
            &format!("--{proto}"),
            "127.0.0.1:0",
            "--time-scale",
            "60",
            "--duration",
            "60s",
        ])
        .arg("--write-tags")
        .arg(&tags)
        .arg("--pki-dir")
        .arg(dir.join("pki-plant"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served(child);
    let t = Instant::now();
    while !tags.exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "serve-plant wrote no tag map");
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}
