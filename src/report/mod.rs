//! ⑦ Reports for machines: problems located at file:line:column (for `--json` and
//! annotations), JUnit XML, GitHub Actions annotations and step summaries.
//!
//! Pure renderers: what to write and when (flags, environment, files) is `commands::ci`'s
//! business, so nothing here reads the environment or knows which command runs.

pub mod cases;
pub mod github;
pub mod graph;
pub mod junit;
pub mod located;
