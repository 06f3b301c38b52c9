//! Tells the tests which outside programs this machine has, so that a test
//! needing one that is missing is *ignored* (and says why in the summary)
//! rather than passing without having run.
//!
//! Each `have_*` cfg is set when its program is installed, and always under
//! `CI=true`: there `.ci/run` installs them all, and a missing one makes its
//! test fail, not skip. Nothing here changes what is built.

use std::path::Path;
use std::process::{Command, Stdio};

/// (cfg, files that must all exist).
const PROGRAMS: [(&str, &[&str]); 5] = [
    ("have_nginx", &["/usr/sbin/nginx"]),
    ("have_openssl", &["/usr/bin/openssl"]),
    (
        "have_chromium",
        &["/usr/bin/chromium", "/usr/bin/chromedriver"],
    ),
    (
        "have_nchan",
        &[
            "/usr/sbin/nginx",
            "/usr/lib/nginx/modules/ngx_nchan_module.so",
        ],
    ),
    ("have_mosquitto", &["/usr/sbin/mosquitto"]),
];

/// chart_studio 1.1.0 with a plotly that still has traces' `stream` (5.x).
const PYTHON_CLIENT: &str = "import importlib.metadata as m, sys; \
    sys.exit(not (m.version('chart-studio') == '1.1.0' and m.version('plotly').startswith('5.')))";

fn python(script: &str) -> Option<String> {
    let out = Command::new("python3")
        .args(["-c", script])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    // Installing a program changes the folder it goes in: look again then.
    for dir in ["/usr/bin", "/usr/sbin", "/usr/lib/nginx/modules"] {
        if Path::new(dir).is_dir() {
            println!("cargo::rerun-if-changed={dir}");
        }
    }
    for (cfg, files) in PROGRAMS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if ci || files.iter().all(|f| Path::new(f).exists()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rustc-check-cfg=cfg(have_python_client)");
    let have_python = python(PYTHON_CLIENT).is_some();
    if ci || have_python {
        println!("cargo::rustc-cfg=have_python_client");
    }
    if !have_python
        && let Some(site) = python("import site; print(site.getsitepackages()[0])")
        && Path::new(&site).is_dir()
    {
        println!("cargo::rerun-if-changed={site}");
    }
}
