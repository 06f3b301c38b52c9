//! The README as a newcomer reads it: its tables render whole, and every
//! example it names exists.

const README: &str = include_str!("../README.md");

/// The number of cells in a table row (`| a | b |` has 2).
fn cells(row: &str) -> usize {
    row.trim().trim_matches('|').split(" | ").count()
}

#[test]
fn every_table_is_one_block_of_rows_of_one_width() {
    let lines: Vec<&str> = README.lines().collect();
    let mut in_code = false;
    let mut header: Option<(usize, usize)> = None; // (line, cells)
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if line.starts_with('|') {
            match header {
                None => header = Some((i, cells(line))),
                Some((at, width)) => assert_eq!(
                    cells(line),
                    width,
                    "README line {}: a row of {} cells in the table of line {} ({width} cells)",
                    i + 1,
                    cells(line),
                    at + 1
                ),
            }
        } else {
            // A blank line between two rows splits the table: the rows
            // after it render as text.
            if let (Some((at, _)), true) = (header, line.trim().is_empty()) {
                let next = lines.get(i + 1).copied().unwrap_or_default();
                assert!(
                    !next.starts_with("| "),
                    "README line {}: a blank line splits the table of line {}",
                    i + 1,
                    at + 1
                );
            }
            header = None;
        }
    }
}

#[test]
fn every_example_the_readme_runs_exists() {
    let mut named = 0;
    for part in README.split("cargo run --example ").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue; // `cargo run --example …`
        }
        let path = format!("{}/examples/{name}.rs", env!("CARGO_MANIFEST_DIR"));
        assert!(std::path::Path::new(&path).exists(), "no example {name}");
        named += 1;
    }
    assert!(named >= 2, "the README runs its examples");
}
