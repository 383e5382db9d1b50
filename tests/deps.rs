//! Every Debian package the build and the tests need is installed by scripts/install-deps.sh. The programs the
//! tests, examples and scripts run are collected from their sources, found on this machine and traced to the
//! package that owns them (`dpkg-query -S`); so are the files the gssapi build needs (the libclang bindgen loads,
//! the pkg-config files and libraries libgssapi-sys uses). Each package must be in `install-deps.sh --list`, be
//! pulled in by a listed one (Depends or Pre-Depends, as apt installs them), or be on every Debian system
//! (Priority required or important, or Essential); the few exceptions are in [`ALLOWED`] with their reason.
//! Needs a Debian machine on which the packages are installed (as `scripts/test.sh` makes sure).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Programs not from the list, each with the reason.
const ALLOWED: [(&str, &str); 5] = [
    ("cargo", "the Rust toolchain comes from rustup with the machine image, not from Debian"),
    ("rustc", "the Rust toolchain comes from rustup with the machine image, not from Debian"),
    ("cc", "rustc's linker: the machine image's C toolchain (build-essential), needed before any of this runs"),
    ("git", "build.rs asks it for the revision and writes `unknown` without it; the checkout came with it"),
    ("/usr/bin/time", "optional: examples/bench_users.rs and scripts/bench-users.sh measure without it and say so"),
];

/// Programs the tests run by name inside strings (shell snippets, helper arguments), matched as whole words.
const KNOWN_COMMANDS: [&str; 24] = [
    "amtool",
    "curl",
    "kdestroy",
    "kinit",
    "klist",
    "ktutil",
    "ldapadd",
    "ldapdelete",
    "ldapmodify",
    "ldapsearch",
    "ldbadd",
    "ldbmodify",
    "ldbsearch",
    "mount",
    "nsenter",
    "openssl",
    "pgrep",
    "pkill",
    "promtool",
    "samba",
    "samba-tool",
    "smbclient",
    "systemd-analyze",
    "unshare",
];

/// Where a fresh Debian system has its programs (and where tests/support/samba looks for them).
const SYSTEM_DIRS: [&str; 4] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("cannot run {program}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

// ---- what the sources run -----------------------------------------------------------------------------------

/// Rust source split into its code without comments and its string literals (enough of Rust's lexer for this
/// repository's tests: comments, char literals such as `'"'`, escapes, raw strings).
fn rust_lex(src: &str) -> (String, Vec<String>) {
    let b = src.as_bytes();
    let (mut code, mut literals) = (String::new(), Vec::new());
    let mut i = 0;
    while i < b.len() {
        let from = i;
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => i = src[i..].find('\n').map_or(b.len(), |n| i + n),
            b'/' if b.get(i + 1) == Some(&b'*') => i = src[i + 2..].find("*/").map_or(b.len(), |n| i + n + 4),
            // A char literal ('"', '\'', 'x'); otherwise a lifetime.
            b'\'' if b.get(i + 1) == Some(&b'\\') || b.get(i + 2) == Some(&b'\'') => {
                let close = if b[i + 1] == b'\\' { i + 3 } else { i + 2 };
                i = src[close..].find('\'').map_or(b.len(), |n| close + n + 1);
                code.push_str(&src[from..i]);
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#')) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                let start = i + 2 + hashes;
                let end = format!("\"{}", "#".repeat(hashes));
                let len = src.get(start..).and_then(|s| s.find(&end)).unwrap_or(0);
                literals.push(src[start..start + len].to_string());
                i = start + len + end.len();
                code.push_str(&src[from..i.min(b.len())]);
            }
            b'"' => {
                let mut text = String::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    let c = src.get(i..).and_then(|s| s.chars().next()).unwrap_or(' ');
                    text.push(c);
                    i += c.len_utf8();
                }
                literals.push(text);
                i += 1;
                code.push_str(&src[from..i.min(b.len())]);
            }
            _ => {
                let c = src[i..].chars().next().unwrap_or(' ');
                code.push(c);
                i += c.len_utf8();
            }
        }
    }
    (code, literals)
}

/// `Command::new("x")`, `find_tool("x")`, `output_of("x", ..)`: the first argument when it is a literal.
fn called_by_name(src: &str) -> Vec<String> {
    let mut names = Vec::new();
    for call in ["Command::new(\"", "find_tool(\"", "output_of(\""] {
        for (at, _) in src.match_indices(call) {
            let rest = &src[at + call.len()..];
            names.extend(rest.split_once('"').map(|(name, _)| name.to_string()));
        }
    }
    names
}

/// A program path in a system directory (`/usr/bin/python3`), not a directory (`/usr/bin`).
fn is_program_path(word: &str) -> bool {
    SYSTEM_DIRS.iter().any(|dir| {
        word.strip_prefix(dir).and_then(|rest| rest.strip_prefix('/')).is_some_and(|name| {
            !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(&c))
        })
    })
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || ";|&(){}`\"'<>=,".contains(c)).filter(|w| !w.is_empty())
}

fn from_rust(src: &str) -> BTreeSet<String> {
    let (code, literals) = rust_lex(src);
    let mut found: BTreeSet<String> = called_by_name(&code).into_iter().collect();
    for literal in literals {
        for word in words(&literal) {
            if is_program_path(word) || KNOWN_COMMANDS.contains(&word) {
                found.insert(word.to_string());
            }
        }
    }
    found
}

/// A shell line without its quoted text, except the command substitutions (`"$(id -u)"`) in double quotes;
/// comments cut.
fn shell_code(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let (mut single, mut double, mut depth) = (false, false, 0);
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => single = !single,
            _ if single => {}
            '"' if depth == 0 => double = !double,
            '#' if !double && previous.is_whitespace() => break,
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                depth += 1;
                out.push_str("; ");
            }
            ')' if depth > 0 => {
                depth -= 1;
                out.push_str(" ;");
            }
            _ if double && depth == 0 => {}
            c => out.push(c),
        }
        previous = c;
    }
    out
}

/// The command words of a shell script: the first word of each simple command, builtins, keywords, the script's
/// own functions and array contents left out.
fn from_shell(src: &str) -> BTreeSet<String> {
    const LEADING: [&str; 11] = ["if", "then", "else", "elif", "do", "while", "until", "!", "exec", "command", "time"];
    const SKIP: [&str; 27] = [
        "fi", "for", "in", "done", "case", "esac", "echo", "printf", "cd", "set", "exit", "export", "trap", "local",
        "read", "true", "false", "test", "[", "[[", "source", ".", "shift", "return", "wait", "declare", "unset",
    ];
    let functions: BTreeSet<&str> =
        src.lines().filter_map(|l| l.trim().strip_suffix("() {")).filter(|name| !name.contains(' ')).collect();
    let mut found = BTreeSet::new();
    let mut in_array = false;
    for line in src.lines() {
        let line = line.trim();
        if in_array {
            in_array = line != ")";
            continue;
        }
        if line.ends_with("=(") {
            in_array = true;
            continue;
        }
        let code = shell_code(line);
        for segment in code.split(['|', ';', '&', '(', '{', '`']).map(|s| s.trim_start_matches('$').trim()) {
            let mut tokens = segment.split_whitespace();
            let mut word = tokens.next();
            // Keywords and assignments that a command follows; builtins end the search.
            while let Some(w) = word {
                if LEADING.contains(&w) || (w.contains('=') && !w.starts_with('=')) {
                    word = tokens.next();
                } else if SKIP.contains(&w) {
                    word = None;
                } else {
                    break;
                }
            }
            let Some(word) = word else { continue };
            let plain = word.bytes().all(|c| c.is_ascii_alphanumeric() || b"._+-/".contains(&c));
            let starts = word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/');
            let program = !word.contains('/') || is_program_path(word);
            if plain && starts && program && !functions.contains(word) {
                found.insert(word.to_string());
            }
        }
    }
    found
}

fn source_files(dir: &Path, ext: &str, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for path in entries.map(|e| e.unwrap().path()) {
        if path.is_dir() && recursive {
            source_files(&path, ext, recursive, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Program (name or absolute path) → the source files that run it.
fn programs_run() -> BTreeMap<String, BTreeSet<String>> {
    let root = root();
    let mut rust = vec![root.join("build.rs")];
    source_files(&root.join("tests"), "rs", true, &mut rust);
    // This file names programs as data, not to run them.
    rust.retain(|f| !f.ends_with("tests/deps.rs"));
    source_files(&root.join("examples"), "rs", false, &mut rust);
    let mut shell = Vec::new();
    source_files(&root.join("scripts"), "sh", false, &mut shell);
    let mut programs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (files, scan) in [(rust, from_rust as fn(&str) -> BTreeSet<String>), (shell, from_shell)] {
        for file in files {
            let src = std::fs::read_to_string(&file).unwrap();
            let name = file.strip_prefix(&root).unwrap().display().to_string();
            for program in scan(&src) {
                programs.entry(program).or_default().insert(name.clone());
            }
        }
    }
    programs
}

// ---- Debian's view ------------------------------------------------------------------------------------------

struct Packages {
    /// Installed package → the packages apt installed with it (Pre-Depends and Depends, first installed choice).
    depends: BTreeMap<String, Vec<Vec<String>>>,
    /// Virtual package → installed providers.
    providers: BTreeMap<String, Vec<String>>,
    /// Priority required or important, or Essential.
    base: BTreeSet<String>,
}

fn package_name(entry: &str) -> String {
    let name = entry.trim().split([' ', '(']).next().unwrap_or_default();
    name.split(':').next().unwrap_or_default().to_string()
}

impl Packages {
    fn load() -> Packages {
        let format =
            "${Package}\t${db:Status-Status}\t${Priority}\t${Essential}\t${Pre-Depends}, ${Depends}\t${Provides}\n";
        let table = output("dpkg-query", &["-W", "-f", format]).expect("a Debian system: dpkg-query lists packages");
        let mut packages = Packages { depends: BTreeMap::new(), providers: BTreeMap::new(), base: BTreeSet::new() };
        for line in table.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [name, status, priority, essential, depends, provides] = fields[..] else { continue };
            if status != "installed" {
                continue;
            }
            if matches!(priority, "required" | "important") || essential == "yes" {
                packages.base.insert(name.to_string());
            }
            let groups = depends
                .split(',')
                .filter(|g| !g.trim().is_empty())
                .map(|g| g.split('|').map(package_name).collect())
                .collect();
            packages.depends.entry(name.to_string()).or_default().extend::<Vec<Vec<String>>>(groups);
            for virtual_name in provides.split(',').map(package_name).filter(|p| !p.is_empty()) {
                packages.providers.entry(virtual_name).or_default().push(name.to_string());
            }
        }
        packages
    }

    /// Installed packages that depend on `package` directly: a hint at which one to list.
    fn dependents(&self, package: &str) -> Vec<&str> {
        let depends_on = |groups: &Vec<Vec<String>>| groups.iter().any(|g| g.first().is_some_and(|p| p == package));
        self.depends.iter().filter(|(_, groups)| depends_on(groups)).map(|(name, _)| name.as_str()).collect()
    }

    /// `roots` and everything apt installs with them.
    fn closure(&self, roots: &[String]) -> BTreeSet<String> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = roots.to_vec();
        while let Some(package) = todo.pop() {
            if !seen.insert(package.clone()) {
                continue;
            }
            for group in self.depends.get(&package).into_iter().flatten() {
                let chosen = group.iter().find_map(|alt| {
                    if self.depends.contains_key(alt) {
                        Some(vec![alt.clone()])
                    } else {
                        self.providers.get(alt).cloned()
                    }
                });
                todo.extend(chosen.unwrap_or_default());
            }
        }
        seen
    }
}

/// The package owning `path`, trying the `/usr`-merged twin and the resolved symlink as dpkg may know either.
fn owner(path: &Path) -> Option<(String, PathBuf)> {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut candidates = Vec::new();
    for p in [path.to_path_buf(), canonical] {
        let text = p.display().to_string();
        let twin = match text.strip_prefix("/usr") {
            Some(rest) => PathBuf::from(rest),
            None => PathBuf::from(format!("/usr{text}")),
        };
        candidates.extend([p, twin]);
    }
    candidates.into_iter().find_map(|p| {
        let text = output("dpkg-query", &["-S", &p.display().to_string()]).ok()?;
        let line = text.lines().find(|l| !l.starts_with("diversion by"))?;
        let (packages, _) = line.rsplit_once(": ")?;
        Some((package_name(packages.split(", ").next()?), p))
    })
}

// ---- what the gssapi build needs ----------------------------------------------------------------------------

/// The libclang bindgen loads (clang-sys with its `runtime` feature): `LIBCLANG_PATH`, else `llvm-config
/// --prefix`, else the system library directories; `libclang-cpp` never; the highest version in the file name
/// wins, the earliest found on a tie.
fn libclang_bindgen_loads() -> Option<PathBuf> {
    let pattern = |name: &str| {
        name == "libclang.so"
            || (name.starts_with("libclang-") && name.ends_with(".so"))
            || name.starts_with("libclang.so.")
            || (name.starts_with("libclang-") && name.contains(".so."))
    };
    let search = |dir: &Path, found: &mut Vec<PathBuf>| {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
        names.sort();
        found.extend(names.into_iter().filter(|n| pattern(n) && !n.contains("-cpp.")).map(|n| dir.join(n)));
    };
    let mut found = Vec::new();
    if let Some(path) = std::env::var_os("LIBCLANG_PATH").map(PathBuf::from) {
        if path.is_file() {
            return Some(path);
        }
        search(&path, &mut found);
    } else {
        if let Ok(prefix) = output("llvm-config", &["--prefix"]) {
            for sub in ["bin", "lib", "lib64"] {
                search(&Path::new(prefix.trim()).join(sub), &mut found);
            }
        }
        for var in ["LD_LIBRARY_PATH", "LIBRARY_PATH"] {
            for dir in std::env::split_paths(&std::env::var_os(var).unwrap_or_default()) {
                search(&dir, &mut found);
            }
        }
        for dir in ["/usr/local/llvm*/lib*", "/usr/local/lib*/*/*", "/usr/local/lib*/*", "/usr/local/lib*"]
            .into_iter()
            .chain(["/usr/lib*/*/*", "/usr/lib*/*", "/usr/lib*"])
        {
            for d in glob_dirs(dir) {
                search(&d, &mut found);
            }
        }
    }
    let version = |path: &PathBuf| -> Vec<u32> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let v = match name.strip_prefix("libclang.so.") {
            Some(v) => v.to_string(),
            None if name.starts_with("libclang-") && name.len() >= 12 => name[9..name.len() - 3].to_string(),
            None => return Vec::new(),
        };
        v.split('.').map(|s| s.parse().unwrap_or(0)).collect()
    };
    // 64-bit ELF only, as clang-sys checks.
    let elf64 = |p: &PathBuf| {
        let mut header = [0u8; 5];
        std::fs::File::open(p).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header)).is_ok()
            && header == *b"\x7fELF\x02"
    };
    found.into_iter().filter(elf64).rev().max_by_key(version)
}

/// Directories matching a pattern whose components may contain `*`.
fn glob_dirs(pattern: &str) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("/")];
    for part in pattern.trim_start_matches('/').split('/') {
        let mut next = Vec::new();
        for dir in &dirs {
            if !part.contains('*') {
                next.push(dir.join(part));
                continue;
            }
            let (head, tail) = part.split_once('*').unwrap_or((part, ""));
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut matched: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(head) && n.ends_with(tail)))
                .map(|e| e.path())
                .collect();
            matched.sort();
            next.extend(matched);
        }
        dirs = next.into_iter().filter(|d| d.is_dir()).collect();
    }
    dirs
}

/// Files the gssapi build reads, each with why: libclang, the pkg-config files and the libraries they link.
fn build_inputs() -> Result<Vec<(PathBuf, String)>, String> {
    let mut inputs = Vec::new();
    // libgssapi-sys runs it (through the pkg-config crate) to find the Kerberos headers and libraries.
    let pkg_config = find_program("pkg-config").ok_or("the pkg-config program")?;
    inputs.push((pkg_config, "the pkg-config program libgssapi-sys runs (gssapi feature)".to_string()));
    let clang = libclang_bindgen_loads().ok_or("no libclang for bindgen (the gssapi feature's libgssapi-sys)")?;
    inputs.push((clang, "the libclang bindgen loads (gssapi feature)".to_string()));
    // libgssapi-sys probes mit-krb5-gssapi; krb5-gssapi is the generic name.
    for module in ["mit-krb5-gssapi", "krb5-gssapi"] {
        let dir = output("pkg-config", &["--variable=pcfiledir", module])?;
        inputs.push((Path::new(dir.trim()).join(format!("{module}.pc")), format!("pkg-config module {module}")));
    }
    // The headers bindgen reads (libgssapi-sys' wrapper_mit.h) and the libraries the linker needs.
    let flags = output("pkg-config", &["--cflags", "--libs", "mit-krb5-gssapi"])?;
    let flag_dirs = |flag: &'static str| -> Vec<PathBuf> {
        flags.split_whitespace().filter_map(|w| w.strip_prefix(flag)).map(PathBuf::from).collect()
    };
    let mut include = flag_dirs("-I");
    include.push(PathBuf::from("/usr/include"));
    for header in ["gssapi/gssapi.h", "gssapi/gssapi_krb5.h"] {
        let path = include.iter().map(|d| d.join(header)).find(|p| p.exists()).ok_or(format!("<{header}>"))?;
        inputs.push((path, format!("<{header}>, which bindgen reads (gssapi feature)")));
    }
    let mut lib_dirs = flag_dirs("-L");
    lib_dirs.extend(glob_dirs("/usr/lib/*-linux-gnu"));
    lib_dirs.extend(["/usr/lib", "/lib"].map(PathBuf::from));
    for lib in flags.split_whitespace().filter_map(|w| w.strip_prefix("-l")) {
        let file = format!("lib{lib}.so");
        let path = lib_dirs.iter().map(|d| d.join(&file)).find(|p| p.exists()).ok_or(format!("{file} (-l{lib})"))?;
        inputs.push((path, format!("the linker's -l{lib} (gssapi feature)")));
    }
    Ok(inputs)
}

// ---- the check ----------------------------------------------------------------------------------------------

fn listed() -> Vec<String> {
    let list = output("bash", &[&root().join("scripts/install-deps.sh").display().to_string(), "--list"]).unwrap();
    list.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn find_program(program: &str) -> Option<PathBuf> {
    if program.starts_with('/') {
        return Some(PathBuf::from(program)).filter(|p| p.exists());
    }
    SYSTEM_DIRS.iter().map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

#[test]
fn install_deps_lists_every_package_the_build_and_the_tests_need() {
    let list = listed();
    assert!(list.iter().any(|p| p == "samba"), "install-deps.sh --list: {list:?}");
    let packages = Packages::load();
    let installed = packages.closure(&list);
    let allowed: BTreeMap<&str, &str> = ALLOWED.into_iter().collect();
    let verdict = |package: &str| installed.contains(package) || packages.base.contains(package);
    let hint = |package: &str| match packages.dependents(package)[..] {
        [] => String::new(),
        ref those => format!(" (installed here through: {})", those.join(", ")),
    };

    let mut problems = Vec::new();
    let programs = programs_run();
    for must in ["samba-tool", "/usr/bin/python3", "promtool", "kinit", "systemd-analyze", "ldapsearch", "mount"] {
        assert!(programs.contains_key(must), "the scan missed {must}: {:?}", programs.keys());
    }
    for (program, files) in &programs {
        if allowed.contains_key(program.as_str()) {
            continue;
        }
        let files = files.iter().cloned().collect::<Vec<_>>().join(", ");
        let Some(path) = find_program(program) else {
            problems.push(format!("`{program}` (run by {files}) is not installed: add its package to install-deps.sh"));
            continue;
        };
        let found = owner(&path);
        eprintln!("{program:<32} {:<40} {}", path.display(), found.as_ref().map_or("-", |(p, _)| p.as_str()));
        match found {
            Some((package, _)) if verdict(&package) => {}
            Some((package, owned)) => problems.push(format!(
                "package {package} (owns {}, `{program}`, run by {files}) is not installed by install-deps.sh{}",
                owned.display(),
                hint(&package),
            )),
            None => problems.push(format!("`{program}` ({}, run by {files}) is in no Debian package", path.display())),
        }
    }
    match build_inputs() {
        Err(e) => problems.push(format!("the gssapi build's inputs are missing: {e}")),
        Ok(inputs) => {
            for (path, why) in inputs {
                let found = owner(&path);
                eprintln!("{why:<32} {:<40} {}", path.display(), found.as_ref().map_or("-", |(p, _)| p.as_str()));
                match found {
                    Some((package, _)) if verdict(&package) => {}
                    Some((package, owned)) => problems.push(format!(
                        "package {package} (owns {}, {why}) is not installed by install-deps.sh{}",
                        owned.display(),
                        hint(&package),
                    )),
                    None => problems.push(format!("{} ({why}) is in no Debian package", path.display())),
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "scripts/install-deps.sh must install (list the package or one that depends on it; or, with a reason, \
         add it to ALLOWED in tests/deps.rs):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn scanners_find_commands() {
    let rust = r##"let a = Command::new("kinit"); let q = '"'; let e = '\''; // Command::new("commented")
        let b = find_tool("samba-tool"); const P: &str = "/usr/bin/prometheus"; let d = ["/usr/sbin", "/bin"];
        let s = "mount -t tmpfs x /run/samba && exec \"$0\""; let r = r#"raw "promtool" text"#;"##;
    let found: Vec<String> = from_rust(rust).into_iter().collect();
    assert_eq!(found, ["/usr/bin/prometheus", "kinit", "mount", "promtool", "samba-tool"]);
    let shell =
        "set -euo pipefail\npackages=(\n  samba # x\n)\nok() {\n  true\n}\nif [ \"$(dpkg-query -W x)\" ]; then\n  \
                 ok && apt-get update -qq\nfi\nX=1 cargo test # cargo\nprintf 'x' > /usr/sbin/policy-rc.d\n\
                 exec /usr/bin/env bash -c x >/dev/null 2>&1\n";
    let found: Vec<String> = from_shell(shell).into_iter().collect();
    assert_eq!(found, ["/usr/bin/env", "apt-get", "cargo", "dpkg-query"]);
}
