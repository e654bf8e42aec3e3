//! One module per subcommand.

pub(crate) mod bench;
pub(crate) mod certify;
pub(crate) mod checks;
pub(crate) mod conformance;
pub(crate) mod explore;
pub(crate) mod reference;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod trigger;
