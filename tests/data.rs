//! The data sets live in the workspace's `data/`; a crate that compiles one
//! in keeps a copy of its own (so that it packages alone). Each copy must be
//! the workspace's file, byte for byte.

/// Each data set: its name, the workspace's file, and the copy a crate
/// compiles in.
const COPIES: &[(&str, &str, &str)] = &[(
    "gapminder.csv",
    include_str!("../data/gapminder.csv"),
    plotstream::gapminder::EMBEDDED_CSV,
)];

#[test]
fn every_crate_copy_is_the_workspace_data_set() {
    for &(name, workspace, copy) in COPIES {
        assert!(
            workspace == copy,
            "data/{name} and the copy a crate compiles in differ ({} and {} bytes): \
             copy data/{name} over the crate's",
            workspace.len(),
            copy.len()
        );
    }
}

#[test]
fn the_data_readme_names_each_data_set() {
    let readme = include_str!("../data/README.md");
    for &(name, ..) in COPIES {
        assert!(
            readme.contains(&format!("## {name}")),
            "data/README.md has no section for {name}"
        );
    }
}
