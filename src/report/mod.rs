//! ⑦ Reports for machines: problems located at file:line:column (for `--json` and
//! annotations), JUnit XML, GitHub Actions annotations and step summaries.
//!
//! Pure renderers: what to write and when (flags, environment, files) is `commands::ci`'s
//! business, so nothing here reads the environment or knows which command runs.

pub(crate) mod cases;
pub(crate) mod github;
pub(crate) mod graph;
pub(crate) mod junit;
pub(crate) mod located;
