//! A backend that records what it is asked and fails where told: for unit tests of plan,
//! journal and teardown. Never used against the kernel.

use std::io;

use super::{Backend, Fact, StepError};
use crate::plan::Step;

#[derive(Default)]
pub(crate) struct Recorder {
    pub applied: Vec<Step>,
    pub undone: Vec<Step>,
    /// Fail the n-th applied step (0-based), as the kernel would with EEXIST.
    pub fail_at: Option<usize>,
    /// Undo steps that fail.
    pub fail_undo: Vec<Step>,
}

impl Backend for Recorder {
    fn apply(
        &mut self,
        _kind: crate::plan::StageKind,
        steps: &[Step],
        facts: &mut Vec<Fact>,
    ) -> Result<(), StepError> {
        for s in steps {
            if self.fail_at == Some(self.applied.len()) {
                return Err(StepError::new(
                    s,
                    io::Error::from_raw_os_error(libc::EEXIST),
                ));
            }
            self.applied.push(s.clone());
            match s {
                Step::AddNetns { ns } => facts.push(Fact::Netns {
                    ns: ns.clone(),
                    inode: 4_026_531_000 + self.applied.len() as u64,
                }),
                // As on a machine that did not forward before.
                Step::MachineNat { table, .. } => facts.push(Fact::MachineForwarding {
                    table: table.clone(),
                    before: "0".into(),
                }),
                _ => {}
            }
        }
        Ok(())
    }

    fn undo(&mut self, steps: &[Step]) -> Vec<StepError> {
        let mut errors = Vec::new();
        for s in steps {
            if self.fail_undo.contains(s) {
                errors.push(StepError::new(s, io::Error::from_raw_os_error(libc::EBUSY)));
            } else {
                self.undone.push(s.clone());
            }
        }
        errors
    }
}
