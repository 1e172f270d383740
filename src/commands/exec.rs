use super::{Error, Outcome, require_root, running};
use crate::apply::{exec, netns};

/// `vnet exec [LAB] NODE [-- CMD...]`: this process becomes the command (or a shell) inside
/// the node's namespace, so its exit status is the command's own.
pub(super) fn exec(target: &[String], command: &[String]) -> Outcome {
    require_root()?;
    let (named, node) = match target {
        [lab, node] => (Some(lab.as_str()), node.as_str()),
        [node] => (None, node.as_str()),
        _ => {
            return Err(Error::Usage(
                "usage: vnet exec [LAB] NODE [-- CMD...]".into(),
            ));
        }
    };
    let (lab, record) = running::lab(named, &running::typed_with_lab("exec"))?;
    let i = running::node(&lab, &record, node)?;
    let ns = record.lab.netns(i);
    let file = netns::open(&ns).map_err(|error| Error::OpenNamespace {
        lab: lab.to_string(),
        ns: ns.clone(),
        error,
    })?;
    let mut env = vec![("VNET_NODE", node.to_owned())];
    let argv = if command.is_empty() {
        let (argv, ps1) = shell(std::env::var("SHELL").ok(), &format!("{lab}.{node}"));
        env.push(("PS1", ps1));
        argv
    } else {
        command.to_vec()
    };
    let pen = crate::apply::procs::Pen::new(lab.as_str());
    let error = exec::exec_replace(&file, &argv, &env, &pen);
    Err(Error::Exec {
        program: argv.first().cloned().unwrap_or_default(),
        ns,
        error,
    })
}

/// The user's shell (`$SHELL`, else /bin/sh) and a prompt that names `place` in its syntax.
/// bash and zsh skip their start-up files: a `PS1` set there would hide which node this is.
fn shell(user_shell: Option<String>, place: &str) -> (Vec<String>, String) {
    let program = user_shell
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let name = std::path::Path::new(&program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.as_str() {
        "bash" => (vec![program, "--norc".into()], format!("[{place}] \\w# ")),
        "zsh" => (vec![program, "-f".into()], format!("[{place}] %~# ")),
        // sh, dash, ash, busybox: no escapes in PS1, so no working directory either.
        _ => (vec![program], format!("[{place}] # ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_names_lab_and_node_in_each_shells_syntax() {
        assert_eq!(
            shell(Some("/bin/bash".into()), "office.pc1"),
            (
                vec!["/bin/bash".to_string(), "--norc".to_string()],
                "[office.pc1] \\w# ".to_string()
            )
        );
        assert_eq!(
            shell(Some("/usr/bin/dash".into()), "office.pc1").1,
            "[office.pc1] # "
        );
        assert_eq!(shell(Some(String::new()), "lab.h1").0, vec!["/bin/sh"]);
        assert_eq!(shell(None, "lab.h1").0, vec!["/bin/sh"]);
    }
}
