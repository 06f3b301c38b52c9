//! `plotstream generate`, run as a user runs it: the real binary, real pipes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use clap::Parser;
use plotstream::cli::{Opts, run};
use serde_json::Value;

fn plotstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plotstream"))
        .args(args)
        .output()
        .expect("the plotstream binary runs")
}

#[test]
fn a_thousand_frames_are_a_thousand_tape_lines_byte_identical_across_runs() {
    let args = ["generate", "noisy-cosine", "--count", "1000", "--seed", "7"];
    let first = plotstream(&args);
    assert!(first.status.success(), "{first:?}");
    assert!(first.stderr.is_empty());
    let text = String::from_utf8(first.stdout.clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1000);
    for (i, line) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(line).expect("each line is JSON");
        let obj = v.as_object().expect("an object");
        assert_eq!(obj.len(), 3, "{line}");
        let t = obj["t"].as_f64().expect("t is a number");
        assert!((t - i as f64 * 0.08).abs() < 1e-9, "{line}");
        assert_eq!(obj["token"], "noisy-cosine");
        let write = obj["write"].as_object().expect("write is an object");
        assert_eq!(write["x"], i);
        assert!(write["y"].is_f64(), "{line}");
    }
    let second = plotstream(&args);
    assert_eq!(
        first.stdout, second.stdout,
        "the same seed gives the same bytes"
    );
    let other = plotstream(&["generate", "noisy-cosine", "--count", "1000", "--seed", "8"]);
    assert_ne!(first.stdout, other.stdout, "another seed gives other bytes");
}

#[test]
fn samples_are_raw_index_and_value() {
    let out = plotstream(&[
        "generate",
        "noisy-cosine",
        "--count",
        "3",
        "--samples",
        "--seed",
        "7",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let first: Value = serde_json::from_str(text.lines().next().expect("a line")).expect("JSON");
    assert_eq!(first, serde_json::json!({"i": 0, "y": -0.8266753083094904}));
    assert_eq!(text.lines().count(), 3);
}

/// `plotstream generate noisy-cosine | head -1`: the reader goes away after one
/// line, and the never-ending stream ends quietly with exit 0.
#[test]
fn a_closed_pipe_ends_a_never_ending_stream_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_plotstream"))
        .args(["generate", "noisy-cosine"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads one line");
    assert!(
        line.starts_with(r#"{"t":0.0,"token":"noisy-cosine""#),
        "{line}"
    );
    // The reader is dropped here: the pipe closes like `head -1` closing it.
    let out = child.wait_with_output().expect("ends");
    assert!(out.status.success(), "exit {:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn bad_arguments_say_what_is_valid_and_exit_2() {
    let out = plotstream(&["generate", "pendulum"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'pendulum'"), "{err}");
    assert!(err.contains("possible values: noisy-cosine"), "{err}");

    for args in [
        &["generate", "noisy-cosine", "--count", "-1"][..],
        &["generate", "noisy-cosine", "--seed", "x"],
        &["generate", "noisy-cosine", "--token-prefix", "a b"],
        &["generate"],
        &["frobnicate"],
    ] {
        let out = plotstream(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
    let out = plotstream(&["generate", "noisy-cosine", "--token-prefix", "a b"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "token prefix \"a b\": ' ' at byte 1 is not allowed: a stream token is visible ASCII"
        ),
        "{err}"
    );
}

#[test]
fn run_is_callable_in_process() {
    let mut out = Vec::new();
    let opts = Opts::parse_from([
        "plotstream",
        "generate",
        "noisy-cosine",
        "--count",
        "2",
        "--token-prefix",
        "abc",
    ]);
    run(opts, &mut out).expect("runs");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(text.lines().count(), 2);
    assert!(text.lines().all(|l| l.contains(r#""token":"abc""#)));
}

/// A writer whose reader has gone away.
struct ClosedPipe;

impl std::io::Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Any other output error is reported.
struct FullDisk;

impl std::io::Write for FullDisk {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("no space left on device"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_broken_pipe_is_success_and_other_output_errors_are_not() {
    let opts = || Opts::parse_from(["plotstream", "generate", "noisy-cosine"]);
    run(opts(), &mut ClosedPipe).expect("a closed pipe ends the stream cleanly");
    let err = run(opts(), &mut FullDisk).expect_err("a full disk is an error");
    assert_eq!(err.to_string(), "cannot write the output");
}
