//! What `deploy/` ships must work as written: the Job's container args are
//! a `plotstream load` command line that parses (once Kubernetes has put
//! the shard index and the start in), starting together, reporting to
//! stdout and serving Prometheus; and the Containerfile builds in one stage
//! and runs the binary from a slim one.

use clap::Parser;
use plotstream::cli::{Command, Opts};
use serde_yaml_ng::Value;

const JOB: &str = include_str!("../deploy/k8s/load-job.yaml");
const CONTAINERFILE: &str = include_str!("../deploy/Containerfile");

/// The manifest's documents.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .collect()
}

#[test]
fn the_job_s_args_are_a_load_command_line_that_starts_together() {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 120;
    // What the README's apply step does.
    let manifest = JOB.replace("START_AT_UNIX", &start.to_string());
    let docs = documents(&manifest);
    let job = docs
        .iter()
        .find(|d| d["kind"] == "Job")
        .expect("a Job in the manifest");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let completions = job["spec"]["completions"].as_u64().expect("completions");
    assert_eq!(job["spec"]["parallelism"].as_u64(), Some(completions));
    let pod = &job["spec"]["template"];
    assert_eq!(pod["metadata"]["annotations"]["prometheus.io/port"], "9464");
    let container = &pod["spec"]["containers"][0];
    let env: Vec<(&str, &Value)> = container["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().expect("a name"), e))
        .collect();
    assert!(env.iter().any(|(n, e)| *n == "SHARD"
        && e["valueFrom"]["fieldRef"]["fieldPath"]
            == "metadata.annotations['batch.kubernetes.io/job-completion-index']"));
    let start_at = env
        .iter()
        .find(|(n, _)| *n == "START_AT")
        .and_then(|(_, e)| e["value"].as_str())
        .expect("START_AT");
    for shard in 0..completions {
        // Kubernetes expands $(VAR) in args from the container's env.
        let args: Vec<String> = container["args"]
            .as_sequence()
            .expect("args")
            .iter()
            .map(|a| {
                a.as_str()
                    .expect("a string")
                    .replace("$(SHARD)", &shard.to_string())
                    .replace("$(START_AT)", start_at)
            })
            .collect();
        let opts = Opts::try_parse_from(std::iter::once("plotstream".to_owned()).chain(args))
            .unwrap_or_else(|e| panic!("the Job's args do not parse: {e}"));
        let Command::Load(load) = opts.command else {
            panic!("not a load command");
        };
        let o = load.opts.expect("a test, not merge");
        assert_eq!((o.shard.index, o.shard.count), (shard, completions));
        assert_eq!(o.report.as_deref(), Some(std::path::Path::new("-")));
        assert_eq!(
            o.start_at
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
            Some(start),
            "every shard starts at the instant given"
        );
        assert_eq!(
            o.metrics_addr.map(|a| a.port()),
            Some(9464),
            "the port the annotations name"
        );
    }
    // No shared volume: the reports are in the pods' logs.
    assert!(!manifest.contains("PersistentVolumeClaim"));
    assert!(manifest.contains("plotstream load merge -"));
}

#[test]
fn the_containerfile_builds_on_rust_and_runs_on_slim_debian() {
    let froms: Vec<&str> = CONTAINERFILE
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(froms[0].contains("library/rust:") && froms[0].ends_with(" AS build"));
    assert!(froms[1].contains("library/debian:") && froms[1].contains("-slim"));
    assert!(CONTAINERFILE.contains("cargo build --release --locked --bin plotstream"));
    assert!(CONTAINERFILE.contains("COPY --from=build /usr/local/bin/plotstream"));
    assert!(CONTAINERFILE.contains(r#"ENTRYPOINT ["/usr/local/bin/plotstream"]"#));
    // The toolchain the image builds with is the workspace's own.
    let manifest = include_str!("../Cargo.toml");
    let rust = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"'))
        .expect("rust-version");
    let image = froms[0]
        .split("rust:")
        .nth(1)
        .and_then(|t| t.split('-').next())
        .expect("a tag");
    assert!(
        version(image) >= version(rust),
        "the image's Rust {image} is older than rust-version {rust}"
    );
}

fn version(v: &str) -> Vec<u32> {
    v.split('.').filter_map(|p| p.parse().ok()).collect()
}
