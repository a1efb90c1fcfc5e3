//! The real window: `twin view` on the machining cell under a virtual X server (Xvfb), the
//! screen grabbed with `xwd` and checked not to be blank. The grab is written to
//! `$CARGO_TARGET_TMPDIR/viewer-xvfb.png` (the README's screenshot comes from it).
//!
//! Needs `Xvfb` and `xwd` (apt: xvfb x11-apps) and a Vulkan driver (mesa-vulkan-drivers, the
//! CPU one, lavapipe, is enough); scripts/install-deps.sh installs them.
#![cfg(feature = "viewer")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills a child process of this test when dropped (also when an assertion fails).
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An RGB image from an XWD dump of a 24-bit TrueColor screen (what Xvfb makes).
fn parse_xwd(b: &[u8]) -> Result<(u32, u32, Vec<[u8; 3]>), String> {
    let word = |i: usize| -> Result<u32, String> {
        b.get(4 * i..4 * i + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            .ok_or_else(|| "xwd header truncated".to_string())
    };
    let (header, width, height) = (word(0)? as usize, word(4)?, word(5)?);
    let (lsb_first, bpp, bpl) = (word(7)? == 0, word(11)?, word(12)? as usize);
    let masks = [word(14)?, word(15)?, word(16)?];
    let ncolors = word(19)? as usize;
    if bpp != 32 {
        return Err(format!("expected 32 bits per pixel, got {bpp}"));
    }
    let data = &b[header + 12 * ncolors..];
    let mut px = Vec::with_capacity((width * height) as usize);
    for y in 0..height as usize {
        for x in 0..width as usize {
            let w = data
                .get(y * bpl + 4 * x..y * bpl + 4 * x + 4)
                .ok_or("xwd pixels truncated")?;
            let v = if lsb_first {
                u32::from_le_bytes([w[0], w[1], w[2], w[3]])
            } else {
                u32::from_be_bytes([w[0], w[1], w[2], w[3]])
            };
            px.push(masks.map(|m| ((v & m) >> m.trailing_zeros()) as u8));
        }
    }
    Ok((width, height, px))
}

/// Distinct colours and the share of pixels that are not the most common colour.
fn variety(px: &[[u8; 3]]) -> (usize, f64) {
    let mut counts = std::collections::HashMap::new();
    for p in px {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    (counts.len(), 1.0 - top as f64 / px.len().max(1) as f64)
}

#[test]
fn twin_view_draws_the_plant_in_a_real_window() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A display number of our own, so parallel runs do not collide.
    let display = format!(":{}", 100 + std::process::id() % 400);
    let xvfb = Command::new("Xvfb")
        .args([&display, "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (apt install xvfb; scripts/install-deps.sh does)");
    let _xvfb = Reaper(xvfb);
    let socket = format!("/tmp/.X11-unix/X{}", &display[1..]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Path::new(&socket).exists() {
        assert!(Instant::now() < deadline, "Xvfb did not start on {display}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::env::temp_dir().join(format!("twin-view-{}.log", std::process::id()));
    let twin = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "view",
            "scenarios/samples/machining_cell.toml",
            "--until",
            "8h",
            "--size",
            "1400x900",
        ])
        .current_dir(root)
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        // An empty WGPU_BACKEND breaks adapter selection; let wgpu choose.
        .env_remove("WGPU_BACKEND")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("twin view");
    let mut twin = Reaper(twin);

    // Grab the screen until the viewer has drawn a varied picture (or give up after 3 min:
    // the first frame compiles shaders on a CPU driver).
    let deadline = Instant::now() + Duration::from_secs(180);
    let (width, height, px) = loop {
        if let Some(status) = twin.0.try_wait().expect("wait") {
            panic!(
                "twin view exited early ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        let out = Command::new("xwd")
            .args(["-root", "-silent", "-display", &display])
            .output()
            .expect("xwd (apt install x11-apps)");
        assert!(
            out.status.success(),
            "xwd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (_, _, px) = parse_xwd(&out.stdout).expect("xwd output");
        let (colours, not_background) = variety(&px);
        if colours > 200 && not_background > 0.3 {
            // One more grab after a pause, so the picture is a settled frame.
            std::thread::sleep(Duration::from_secs(2));
            let out = Command::new("xwd")
                .args(["-root", "-silent", "-display", &display])
                .output()
                .expect("xwd");
            break parse_xwd(&out.stdout).expect("xwd output");
        }
        assert!(
            Instant::now() < deadline,
            "the screen stayed blank ({colours} colours, {:.0}% not background); log:\n{}",
            100.0 * not_background,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let (colours, not_background) = variety(&px);
    assert!(
        colours > 200 && not_background > 0.3,
        "{colours} colours, {not_background}"
    );
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer-xvfb.png");
    let raw: Vec<u8> = px.iter().flatten().copied().collect();
    image::RgbImage::from_raw(width, height, raw)
        .expect("image size")
        .save(&png)
        .expect("write the screenshot");
    eprintln!("screenshot: {}", png.display());
    assert!(twin.0.try_wait().expect("wait").is_none(), "the viewer is still open");
}
