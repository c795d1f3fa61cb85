//! The sandbox's path checks, case by case: the attack cases of the
//! reference filesystem server's path-validation suite and of its two 2025
//! advisories (CVE-2025-53110: a prefix sibling passed a bare
//! `startsWith`; CVE-2025-53109: a symlink leading outside passed when its
//! error was taken for "does not exist yet"), and what must stay allowed.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;
use crate::config::Config;

/// `base/proj` (the root) with `docs/a.md`, beside `base/proj_evil/f`
/// and `base/outside/secret.txt`.
struct Fixture {
    _dir: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
}

impl Fixture {
    fn new(config: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("proj");
        for d in ["proj/docs", "proj/.roo", "proj_evil", "outside/sub"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        std::fs::write(root.join("docs/a.md"), "a\n").unwrap();
        std::fs::write(base.join("proj_evil/f"), "evil\n").unwrap();
        std::fs::write(base.join("outside/secret.txt"), "secret\n").unwrap();
        if !config.is_empty() {
            std::fs::write(root.join(".roo/orchestrator.toml"), config).unwrap();
        }
        Fixture {
            _dir: dir,
            base,
            root,
        }
    }

    fn sandbox(&self) -> Sandbox {
        Sandbox::new(&Config::load(&self.root, None).unwrap())
    }

    fn link(&self, at: &str, to: impl AsRef<Path>) {
        symlink(to, self.root.join(at)).unwrap();
    }
}

fn refused_for(sb: &Sandbox, given: &str, access: Access) -> String {
    match sb.check(given, access) {
        Ok(c) => panic!("{given:?} was allowed as {}", c.path.rel()),
        Err(e) => {
            assert!(
                matches!(e, Error::Refused(_) | Error::Invalid(_)),
                "{given:?}: {e:?}"
            );
            e.to_string()
        }
    }
}

fn refused(sb: &Sandbox, given: &str) -> String {
    let read = refused_for(sb, given, Access::Read);
    refused_for(sb, given, Access::Write);
    read
}

fn allowed(sb: &Sandbox, given: &str) -> Checked {
    sb.check(given, Access::Read)
        .unwrap_or_else(|e| panic!("{given:?} was refused: {e}"))
}

#[test]
fn prefix_siblings_of_the_root_are_outside() {
    let f = Fixture::new("");
    let sb = f.sandbox();
    let base = f.base.display();
    for given in [
        format!("{base}/proj_evil/f"),
        format!("{base}/proj_evil"),
        format!("{base}/project"),
        format!("{base}/proj2/x"),
        format!("{base}/proj.bak"),
        format!("{base}/proj/../proj_evil/f"),
        "../proj_evil/f".to_string(),
    ] {
        let e = refused(&sb, &given);
        assert!(
            e.contains("outside the project root") || e.contains("climbs above"),
            "{e}"
        );
    }
}

#[test]
fn dot_dot_cannot_climb_above_the_root_in_any_spelling() {
    let f = Fixture::new("");
    let sb = f.sandbox();
    let root = f.root.display();
    let long = format!("{}{}etc/passwd", "a/".repeat(1000), "../".repeat(1001));
    for given in [
        "..",
        "../outside/secret.txt",
        "docs/../../outside/secret.txt",
        "docs/./../../outside/secret.txt",
        "./../outside",
        "docs//..//..//outside",
        "new/dir/../../../outside",
        &format!("{root}/.."),
        &format!("{root}/docs/../../outside/secret.txt"),
        &format!("{root}/../proj/../../etc"),
        &long,
    ] {
        let e = refused(&sb, given);
        assert!(
            e.contains("climbs above") || e.contains("outside the project root"),
            "{given}: {e}"
        );
    }
}

#[test]
fn names_that_only_look_like_traversal_stay_inside() {
    let f = Fixture::new("");
    let sb = f.sandbox();
    for (given, rel) in [
        ("...", "..."),
        ("....", "...."),
        ("..test", "..test"),
        ("te..st", "te..st"),
        // Not decoded: a literal file name.
        ("%2e%2e/%2e%2e/etc", "%2e%2e/%2e%2e/etc"),
        // A backslash is part of a name on Linux.
        ("..\\..\\etc\\passwd", "..\\..\\etc\\passwd"),
        ("docs/..", "."),
        ("docs/../docs/a.md", "docs/a.md"),
        ("./docs//a.md", "docs/a.md"),
        ("new/sub/../f.txt", "new/f.txt"),
        // Full-width dots are ordinary characters.
        ("．．/x", "．．/x"),
    ] {
        assert_eq!(allowed(&sb, given).path.rel(), rel, "{given}");
    }
}

#[test]
fn absolute_paths_inside_the_root_are_accepted_and_shown_relative() {
    let f = Fixture::new("");
    let sb = f.sandbox();
    let root = f.root.display().to_string();
    assert_eq!(
        allowed(&sb, &format!("{root}/docs/a.md")).path.rel(),
        "docs/a.md"
    );
    assert_eq!(allowed(&sb, &root).path.rel(), ".");
    assert_eq!(allowed(&sb, &format!("{root}/")).path.rel(), ".");
    assert_eq!(allowed(&sb, &format!("{root}/.")).path.rel(), ".");
    assert_eq!(allowed(&sb, ".").kind, Kind::Dir);
    assert_eq!(
        refused(&sb, "/etc/passwd"),
        "\"/etc/passwd\" is refused: it is an absolute path outside the project root (give a path relative to the root)"
    );
    assert_eq!(
        refused(&sb, "/"),
        "\"/\" is refused: it is an absolute path outside the project root (give a path relative to the root)"
    );
}

#[test]
fn a_nul_byte_is_refused_wherever_it_is() {
    let f = Fixture::new("");
    let sb = f.sandbox();
    for given in ["docs/a.md\0", "\0", "docs\0/../../etc"] {
        assert!(refused(&sb, given).contains("NUL byte"), "{given:?}");
    }
    assert!(matches!(sb.check("", Access::Read), Err(Error::Invalid(_))));
}

#[test]
fn symlinks_leading_outside_are_refused_at_any_depth() {
    let f = Fixture::new("");
    let outside = f.base.join("outside");
    f.link("file_out", outside.join("secret.txt"));
    f.link("dir_out", &outside);
    f.link("rel_out", "../outside/secret.txt");
    f.link("up", "..");
    f.link("slash", "/");
    std::fs::create_dir_all(f.root.join("deep/er")).unwrap();
    symlink(&outside, f.root.join("deep/er/link")).unwrap();
    let sb = f.sandbox();
    for given in [
        "file_out",
        "dir_out",
        "dir_out/secret.txt",
        "dir_out/new.txt",
        "dir_out/sub/new/deeper.txt",
        "rel_out",
        "up",
        "up/outside/secret.txt",
        "slash",
        "slash/etc/passwd",
        "deep/er/link/secret.txt",
    ] {
        let e = refused(&sb, given);
        assert!(
            e.contains("points outside the project root"),
            "{given}: {e}"
        );
    }
    // The refusal names the link, never what it holds.
    let e = refused(&sb, "file_out");
    assert!(e.contains("the symlink file_out"), "{e}");
    assert!(!e.contains("secret\n"), "{e}");
}

#[test]
fn symlink_chains_are_followed_link_by_link() {
    let f = Fixture::new("");
    f.link("c", f.base.join("outside"));
    f.link("b", "c");
    f.link("a", "b");
    f.link("in3", "docs");
    f.link("in2", "in3");
    f.link("in1", f.root.join("in2"));
    f.link("loop1", "loop2");
    f.link("loop2", "loop1");
    let sb = f.sandbox();
    assert!(refused(&sb, "a/secret.txt").contains("the symlink c points outside"));
    let c = allowed(&sb, "in1/a.md");
    assert_eq!(c.real_rel(), "docs/a.md");
    assert_eq!(c.path.rel(), "docs/a.md");
    assert_eq!(c.kind, Kind::File);
    let e = refused(&sb, "loop1");
    assert!(
        e.contains("too many symlinks") || e.contains("cannot be followed"),
        "{e}"
    );
}

#[test]
fn a_link_followed_by_dot_dot_goes_where_the_kernel_goes() {
    // Lexically `linkdir/../secret.txt` is `secret.txt`; the kernel goes to
    // the parent of the link's target, outside.
    let f = Fixture::new("");
    f.link("linkdir", f.base.join("outside/sub"));
    let sb = f.sandbox();
    refused(&sb, "linkdir/../secret.txt");
    // Inside, the same spelling resolves as the kernel does.
    std::fs::create_dir_all(f.root.join("x/y")).unwrap();
    f.link("toy", "x/y");
    assert_eq!(allowed(&sb, "toy/../z").path.rel(), "x/z");
}

#[test]
fn dangling_symlinks_are_refused_for_reads_and_writes() {
    let f = Fixture::new("");
    f.link("dangling", "docs/nothing-here.md");
    f.link("dangling_out", f.base.join("outside/not-yet.txt"));
    f.link("dangling_dir", "no-such-dir");
    let sb = f.sandbox();
    assert!(refused(&sb, "dangling").contains("dangling"));
    assert!(refused(&sb, "dangling_dir/new.txt").contains("dangling"));
    let e = refused(&sb, "dangling_out");
    assert!(e.contains("outside"), "{e}");
}

#[test]
fn a_write_names_a_symlink_leaf_itself_and_a_read_its_target() {
    let f = Fixture::new("");
    f.link("alias.md", "docs/a.md");
    let sb = f.sandbox();
    let w = sb.check("alias.md", Access::Write).unwrap();
    assert_eq!((w.path.rel(), w.kind), ("alias.md", Kind::Symlink));
    let r = sb.check("alias.md", Access::Read).unwrap();
    assert_eq!((r.real_rel().as_str(), r.kind), ("docs/a.md", Kind::File));
}

#[test]
fn a_root_reached_through_a_symlink_accepts_both_spellings() {
    let f = Fixture::new("");
    let alias = f.base.join("alias-of-proj");
    symlink(&f.root, &alias).unwrap();
    let sb = Sandbox::new(&Config::load(&alias, None).unwrap());
    assert_eq!(sb.root(), f.root.as_path());
    let via_alias = format!("{}/docs/a.md", alias.display());
    assert_eq!(allowed(&sb, &via_alias).path.rel(), "docs/a.md");
    assert_eq!(
        allowed(&sb, &format!("{}/docs/new.md", alias.display()))
            .path
            .rel(),
        "docs/new.md"
    );
    refused(&sb, &format!("{}/../outside/secret.txt", alias.display()));
}

#[test]
fn git_is_closed_and_server_files_are_read_only() {
    let f = Fixture::new("[fs]\ndeny = [\"secrets/\", \"*.pem\"]\n");
    std::fs::create_dir_all(f.root.join("secrets")).unwrap();
    std::fs::write(f.root.join("secrets/k"), "k").unwrap();
    f.link("public", "secrets");
    let sb = f.sandbox();
    for given in [".git", ".git/config", "sub/.git/HEAD", "./.git/../.git/x"] {
        assert!(refused(&sb, given).contains(".git/"), "{given}");
    }
    allowed(&sb, ".github/workflows/ci.yml");
    allowed(&sb, ".gitignore");
    for given in ["secrets", "secrets/k", "public/k", "docs/key.pem"] {
        let e = refused(&sb, given);
        assert!(e.contains("[fs] deny rule"), "{given}: {e}");
    }
    for (given, why) in [
        (".roo/orchestrator.toml", "configuration"),
        (".roo/backups/TODO.md/x.md", "backups"),
        (".roo/backups", "backups"),
        (".roo/.locks/TODO.md.lock", "lock files"),
    ] {
        let e = refused_for(&sb, given, Access::Write);
        assert!(e.contains(why), "{given}: {e}");
        allowed(&sb, given);
    }
    sb.check(".roo/schedules.json", Access::Write).unwrap();
}

#[test]
fn missing_paths_resolve_through_their_nearest_existing_ancestor() {
    let f = Fixture::new("");
    f.link("d", "docs");
    let sb = f.sandbox();
    let c = sb.check("d/new/deeper/f.txt", Access::Write).unwrap();
    assert_eq!(c.path.rel(), "docs/new/deeper/f.txt");
    assert_eq!((c.kind, c.missing()), (Kind::Missing, 3));
    let e = refused(&sb, "docs/a.md/inside");
    assert!(e.contains("docs/a.md is not a directory"), "{e}");
}

#[test]
fn an_open_refuses_a_directory_swapped_for_a_symlink_after_the_check() {
    let f = Fixture::new("");
    std::fs::create_dir(f.root.join("d")).unwrap();
    std::fs::write(f.root.join("d/f.txt"), "inside\n").unwrap();
    let sb = f.sandbox();
    let c = sb.check("d/f.txt", Access::Read).unwrap();
    // Swap after the check.
    std::fs::rename(f.root.join("d"), f.root.join("d.old")).unwrap();
    std::fs::create_dir_all(f.base.join("outside/d")).unwrap();
    std::fs::write(f.base.join("outside/d/f.txt"), "secret\n").unwrap();
    f.link("d", f.base.join("outside/d"));
    let e = sb.open(&c).unwrap_err();
    assert!(e.to_string().contains("a symlink appeared"), "{e}");
    let w = Checked {
        path: ProjectPath::resolve(&f.root, "d/new.txt"),
        real: vec!["d".into(), "new.txt".into()],
        kind: Kind::Missing,
        missing: 1,
    };
    let e = sb.open_parent(&w, true).unwrap_err();
    assert!(e.to_string().contains("a symlink appeared"), "{e}");
    assert!(!f.base.join("outside/d/new.txt").exists());
}

#[test]
fn an_absolute_path_is_walked_like_a_relative_one_after_the_root() {
    let f = Fixture::new("");
    f.link("linkdir", f.base.join("outside/sub"));
    let sb = f.sandbox();
    let root = f.root.display();
    // Lexically this is `{root}/secret.txt`; the kernel goes outside.
    refused(&sb, &format!("{root}/linkdir/../secret.txt"));
    assert_eq!(
        allowed(&sb, &format!("{root}/./docs/../docs/a.md"))
            .path
            .rel(),
        "docs/a.md"
    );
}

#[test]
fn a_fifo_swapped_in_after_the_check_is_refused_without_hanging() {
    let f = Fixture::new("");
    let sb = f.sandbox();
    let c = sb.check("docs/a.md", Access::Read).unwrap();
    std::fs::remove_file(f.root.join("docs/a.md")).unwrap();
    rfs::mknodat(
        rfs::CWD,
        f.root.join("docs/a.md"),
        rfs::FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let e = sb.open(&c).unwrap_err().to_string();
    assert!(e.contains("is not a regular file"), "{e}");
}
