//! What `--json` prints when a command fails before its own document, and the schemas of
//! every `--json` document (`vnet schema CMD`; checked in under `schema/`).

use super::Error;
use crate::cli::SchemaArg;

/// `{"version": 1, "ok": false, "exit": 4, "error": {...}}`: the error and the problems it
/// stands for, each at its file, line and column when it has one.
pub(crate) fn error_document(e: &Error) -> serde_json::Value {
    use miette::Diagnostic as _;
    serde_json::json!({
        "version": super::verify::JSON_VERSION,
        "ok": false,
        "exit": e.exit_code(),
        "error": {
            "code": e.code().map(|c| c.to_string()),
            "message": e.to_string(),
            "help": e.help().map(|h| h.to_string()),
            "problems": super::ci::problems_of(e),
        },
    })
}

/// The JSON Schema `vnet schema` prints: the topology format's, made from its description,
/// or a `--json` document's, as checked in.
pub(crate) fn schema(of: SchemaArg) -> String {
    match of {
        SchemaArg::Topology => {
            let schema = crate::topology::format::json_schema();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            )
        }
        SchemaArg::Explain => include_str!("../../schema/output/explain.schema.json").into(),
        SchemaArg::Validate => include_str!("../../schema/output/validate.schema.json").into(),
        SchemaArg::Plan => include_str!("../../schema/output/plan.schema.json").into(),
        SchemaArg::Up => include_str!("../../schema/output/up.schema.json").into(),
        SchemaArg::Down => include_str!("../../schema/output/down.schema.json").into(),
        SchemaArg::Verify | SchemaArg::Test => {
            include_str!("../../schema/output/verify.schema.json").into()
        }
        SchemaArg::Status => include_str!("../../schema/output/status.schema.json").into(),
        SchemaArg::Doctor => include_str!("../../schema/output/doctor.schema.json").into(),
        SchemaArg::Gen => include_str!("../../schema/output/gen.schema.json").into(),
        SchemaArg::Error => include_str!("../../schema/output/error.schema.json").into(),
    }
}
