//! The man pages in `man/` are what clap_mangen makes of the command line now: one page for
//! `vnet` and one per subcommand. `VNET_WRITE_MAN=1` (scripts/man.sh) writes them instead.

use std::collections::BTreeMap;

use crate::repo;

fn pages(dir: &std::path::Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "1"))
                .map(|e| {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn man_pages_in_the_repo_are_current() {
    let fresh = tempfile::tempdir().unwrap();
    let cmd = <vnet::cli::Cli as clap::CommandFactory>::command();
    clap_mangen::generate_to(cmd, fresh.path()).unwrap();
    if std::env::var_os("VNET_WRITE_MAN").is_some() {
        let dir = repo("man");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in pages(fresh.path()) {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    let (fresh, stored) = (pages(fresh.path()), pages(&repo("man")));
    assert!(
        fresh.contains_key("vnet.1") && fresh.contains_key("vnet-test.1"),
        "{:?}",
        fresh.keys()
    );
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        stored.keys().collect::<Vec<_>>(),
        "man/ has other pages than the command line: run `scripts/man.sh` and commit the result"
    );
    for (name, text) in &fresh {
        assert!(
            stored.get(name) == Some(text),
            "man/{name} is stale: run `scripts/man.sh` and commit the result"
        );
    }
}
