//! `wasim checks`: the check catalog.

/// Prints the catalog.
pub(crate) fn run() {
    print!("{}", wasim_conformance::checks::catalog_text());
}
