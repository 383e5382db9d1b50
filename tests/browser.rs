//! The landing page in a real browser: Debian's headless Chromium loads the page of the real exporter watching the
//! lab scenario (a Samba DC and the Graph fake with the breakage of tests/support/scenario.rs, so many FAIL checks
//! with long SDDL strings and DNs) plus a target whose DC refuses connections. It checks that the page renders (banner,
//! causes, form), that a target named with `<script>` is shown as text, and that at 1280 px nothing is wider than
//! the window, and it keeps a screenshot in `target/browser/` for people to look at.
//!
//! The width is measured in the browser: a copy of the served page with a measuring script appended records
//! `scrollWidth` and `clientWidth` of the document and every element that reaches past the window's right edge. A
//! control run measures the same page with one unbreakable value in a `white-space:nowrap` element and must see the
//! overflow, so the measurement is shown able to fail on every run.
//!
//! Needs Chromium (`chromium`, installed by scripts/install-deps.sh) and root for the Samba DC.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::exporter::{write_file, Exporter};
use support::graph_fake::{secret_credential, Credential, GraphFake, SECRET};
use support::samba::{self, SambaDc};
use support::scenario;

/// A target name that would run script if the page did not escape it.
const HOSTILE: &str = "lab <script>alert(1)</script>";
const WIDTH: u32 = 1280;

/// Where the screenshots are kept: `target/browser/` (under `CARGO_TARGET_DIR` when that is set).
fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("browser");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Runs headless Chromium with `args` (at most 60 s) and returns its stdout. A missing Chromium fails the test.
fn chromium(profile: &Path, args: &[String]) -> String {
    let mut child = Command::new("chromium")
        .args(["--headless=new", "--no-sandbox", "--disable-gpu"])
        .args(["--no-first-run", "--disable-extensions", "--disable-background-networking"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run chromium ({e}): install Debian's chromium package with scripts/install-deps.sh (as root)"
            )
        });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    assert!(status.success(), "chromium {args:?}: {status}\n{err}");
    out
}

/// The value of `attr` on the `<html>` element of a dumped DOM, unescaped.
fn html_attribute(dom: &str, attr: &str) -> Option<String> {
    let start = dom.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = start + dom[start..].find('"')?;
    Some(dom[start..end].replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
}

/// Appended to a copy of the page: records the layout as the browser computed it, as JSON in `data-layout`: the
/// document's widths and every element whose box or (unclipped) content reaches past the window's right edge. (`<\/`
/// keeps the HTML parser from ending the script inside the string.)
const MEASURE: &str = "<script>(function(){var d=document.documentElement,w=d.clientWidth,o=[];\
document.querySelectorAll('body *').forEach(function(e){var r=e.getBoundingClientRect();if(r.width===0){return;}\
var right=getComputedStyle(e).overflowX==='visible'?Math.max(r.right,r.left+e.scrollWidth):r.right;\
if(right>w+0.5){o.push(e.tagName.toLowerCase()+(e.className?'.'+e.className:'')+' right='+Math.round(right));}});\
var s=0,me=document.currentScript;document.querySelectorAll('script').forEach(function(x){\
if(x!==me&&x.textContent.indexOf('alert(1)')>=0){s++;}});\
d.setAttribute('data-layout',JSON.stringify({scroll_width:d.scrollWidth,client_width:w,inner_width:innerWidth,\
scroll_height:d.scrollHeight,offenders:o.slice(0,20),alert_scripts:s,\
name_as_text:document.body.innerText.indexOf('<script>alert(1)<\\/script>')>=0}));})();</script>";

/// Loads `page` with [`MEASURE`] appended at 1280 px and returns what it recorded.
fn measure(profile: &Path, dir: &Path, name: &str, page: &str) -> Value {
    let file = write_file(dir, name, &page.replace("</body>", &format!("{MEASURE}</body>")));
    let dom = chromium(
        profile,
        &[format!("--window-size={WIDTH},900"), "--dump-dom".into(), format!("file://{}", file.display())],
    );
    let layout =
        html_attribute(&dom, "data-layout").unwrap_or_else(|| panic!("no measurement in the DOM:\n{dom:.3000}"));
    serde_json::from_str(&layout).unwrap_or_else(|e| panic!("{e}: {layout}"))
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR", "not a PNG");
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

#[tokio::test(flavor = "multi_thread")]
async fn landing_page_renders_escapes_and_fits_1280_px() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    scenario::seed_domain(&dc);
    let fake = GraphFake::start(Credential::Secret(SECRET.to_string())).await;
    scenario::seed_tenant(&fake);
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "ad.password", samba::ADMIN_PASSWORD);
    secret_credential(dir.path(), SECRET);
    let secret = dir.path().join("graph.secret");
    let lab = scenario::exporter_config(&dc, samba::ADMIN_UPN, &pw, &fake, &secret, "1h");
    let lab = lab.replace(&format!("  - name: {}\n", scenario::TARGET), &format!("  - name: \"{HOSTILE}\"\n"));
    assert!(lab.contains(HOSTILE), "the scenario's target line changed:\n{lab}");
    // A second target whose DC refuses connections: its probes could not run, which the page leads with.
    let dead = format!(
        "  - name: branch\n    ad:\n      servers: [\"ldaps://127.0.0.1:1\"]\n      bind:\n        user: svc@corp.example.test\n        password_file: \"{}\"\n",
        pw.display()
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &format!("{lab}{dead}"));
    let exporter = Exporter::start(&cfg, &[]);
    let deadline = Instant::now() + Duration::from_secs(180);
    while exporter.get("/-/ready").await.0 != 200 {
        assert!(Instant::now() < deadline, "never ready; log:\n{}", exporter.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, page) = exporter.get("/").await;
    assert_eq!(status, 200);
    assert!(page.matches("class=\"group FAIL\"").count() >= 5, "the scenario should FAIL for several causes:\n{page}");

    // Kept beside the screenshots for review.
    write_file(&screenshot_dir(), "landing.html", &page);
    let profile = tempfile::tempdir().unwrap();
    let (profile, work) = (profile.path().to_path_buf(), dir.path().to_path_buf());
    let url = exporter.url("/");
    let shots = screenshot_dir();
    let (dom, layout, control, shot) = tokio::task::spawn_blocking(move || {
        // The page as served, as the browser parsed it.
        let dom = chromium(&profile, &[format!("--window-size={WIDTH},900"), "--dump-dom".into(), url.clone()]);
        let layout = measure(&profile, &work, "page.html", &page);
        // The control: an unbreakable value in a non-wrapping element must be measured as overflowing.
        let wide = format!("<p class=\"control\" style=\"white-space:nowrap\">{}</p></header>", "O=".repeat(600));
        let control = measure(&profile, &work, "control.html", &page.replacen("</header>", &wide, 1));
        let shot = shots.join("landing-1280.png");
        let _ = std::fs::remove_file(&shot);
        chromium(
            &profile,
            &[format!("--window-size={WIDTH},900"), format!("--screenshot={}", shot.display()), url.clone()],
        );
        // The whole page too, for review: a window as tall as the document.
        let height = layout["scroll_height"].as_u64().unwrap_or(900).clamp(900, 16_000);
        let full = shots.join("landing-1280-full.png");
        chromium(
            &profile,
            &[format!("--window-size={WIDTH},{height}"), format!("--screenshot={}", full.display()), url],
        );
        (dom, layout, control, shot)
    })
    .await
    .expect("the browser runs");

    // It renders: the banner, the causes (a FAIL with several subjects, the probes that could not run), the form.
    assert!(dom.contains("<section class=\"banner FAIL\" id=\"summary\">"), "{dom:.4000}");
    assert!(dom.contains("Password writeback is blocked by "), "{dom:.4000}");
    assert!(dom.contains("<h3>Causes to act on</h3>") && dom.contains("<article class=\"group FAIL\">"), "{dom:.4000}");
    assert!(dom.contains("subjects</span></h4>"), "a cause with several subjects: {dom:.4000}");
    assert!(dom.contains("probes could not run (connect)"), "{dom:.4000}");
    assert!(dom.contains("<pre><code>Grant the connector account on the scope"), "fixes are code blocks: {dom:.4000}");
    assert!(
        dom.contains("Explain a user's verdict")
            && dom.contains("<form class=\"explain\" method=\"get\" action=\"explain\">")
    );
    assert!(dom.contains("docs/runbooks.md#writebackscopepermissionmissing"), "{dom:.4000}");
    // The hostile name is text: escaped in the serialised DOM, never an element, and readable on the page.
    assert!(dom.contains("lab &lt;script&gt;alert(1)&lt;/script&gt;"), "{dom:.4000}");
    assert!(!dom.contains("<script>alert(1)"), "the target name became markup");
    assert_eq!(layout["alert_scripts"], 0, "{layout}");
    assert_eq!(layout["name_as_text"], true, "{layout}");

    // No horizontal scrollbar at 1280 px, measured by the browser; the control shows the measurement can fail.
    assert_eq!(layout["inner_width"], WIDTH, "the window is not {WIDTH} px wide: {layout}");
    let (scroll, client) = (layout["scroll_width"].as_u64().unwrap(), layout["client_width"].as_u64().unwrap());
    assert!(scroll <= client, "the page is {scroll} px wide in a {client} px window: {layout}");
    assert_eq!(layout["offenders"], Value::Array(vec![]), "elements past the right edge: {layout}");
    let control_scroll = control["scroll_width"].as_u64().unwrap();
    assert!(control_scroll > client, "the control page was not measured as overflowing: {control}");
    assert!(control["offenders"].to_string().contains("p.control"), "{control}");

    assert_eq!(png_size(&shot), (WIDTH, 900), "{}", shot.display());

    // The form answers: what it submits (GET explain?target=…&user=…, the names taken from the page) renders the
    // explanation, which fits the window too; a user name with markup comes back as text.
    for field in ["name=\"target\"", "name=\"user\""] {
        assert!(dom.contains(field), "the form has no {field}: {dom:.4000}");
    }
    let form_url = |user: &str| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("target", HOSTILE)
            .append_pair("user", user)
            .finish();
        format!("/explain?{query}")
    };
    let (status, explained) = exporter.get(&form_url("alice")).await;
    assert_eq!(status, 200, "{explained:.3000}");
    let (status, hostile) = exporter.get(&form_url("<script>alert(1)</script>")).await;
    assert_eq!(status, 404, "{hostile:.3000}");
    let profile = tempfile::tempdir().unwrap();
    let (profile, work) = (profile.path().to_path_buf(), dir.path().to_path_buf());
    let (url, hostile_url, shots) =
        (exporter.url(&form_url("alice")), exporter.url(&form_url("<script>alert(1)</script>")), screenshot_dir());
    let (dom, layout, hostile_dom, shot) = tokio::task::spawn_blocking(move || {
        let dom = chromium(&profile, &[format!("--window-size={WIDTH},900"), "--dump-dom".into(), url.clone()]);
        let layout = measure(&profile, &work, "explain.html", &explained);
        let hostile_dom = chromium(&profile, &[format!("--window-size={WIDTH},900"), "--dump-dom".into(), hostile_url]);
        let shot = shots.join("explain-1280.png");
        let _ = std::fs::remove_file(&shot);
        chromium(&profile, &[format!("--window-size={WIDTH},900"), format!("--screenshot={}", shot.display()), url]);
        (dom, layout, hostile_dom, shot)
    })
    .await
    .expect("the browser runs");
    assert!(dom.contains("<h1>Why alice?</h1>") && dom.contains("class=\"explain\""), "{dom:.4000}");
    assert!(dom.to_lowercase().contains(&format!("cn=alice,{}", scenario::STAFF.to_lowercase())), "{dom:.4000}");
    let (scroll, client) = (layout["scroll_width"].as_u64().unwrap(), layout["client_width"].as_u64().unwrap());
    assert!(scroll <= client, "the explanation is {scroll} px wide in a {client} px window: {layout}");
    assert_eq!(layout["offenders"], Value::Array(vec![]), "elements past the right edge: {layout}");
    assert!(hostile_dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{hostile_dom:.4000}");
    assert!(!hostile_dom.contains("<script>alert(1)"), "the user name became markup");
    assert_eq!(png_size(&shot), (WIDTH, 900), "{}", shot.display());
    eprintln!("screenshots: {} and landing-1280-full.png, explain-1280.png beside it", shot.display());
}
