//! Tells the tests which outside programs this machine has, so that a test
//! needing one that is missing is *ignored* (and says why in the summary)
//! rather than passing without having run.
//!
//! Each `have_*` cfg is set when its program is installed, and always under
//! `CI=true`: there `.ci/run` installs them all, and a missing one makes its
//! test fail, not skip. Nothing here changes what is built. (Python's
//! client is looked for when its tests run, not here: see `tests/python.rs`.)

use std::path::Path;

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
}
