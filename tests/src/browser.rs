//! A real browser for the plot tests: headless Chromium loads a page offline, with a
//! script injected first that records every uncaught error, rejected promise and
//! `console.error` into the DOM, and once the page has loaded hovers its first mark and
//! clicks its first legend entry; the test reads the DOM back (`--dump-dom`) and checks a
//! screenshot is not blank. Shared by the cli's tests (`cli/tests/plot.rs` includes this
//! file) and the end-to-end timeline test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Chromium binary: `chromium` (Debian's package, which scripts/test installs) or
/// `chromium-browser`. Fails, saying how to get it, when there is none.
pub fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Some(dir) = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .find(|d| d.join(name).is_file())
        {
            return dir.join(name);
        }
    }
    panic!("no chromium on PATH: `apt-get install chromium` (scripts/test installs it)");
}

// Runs before anything else on the page: what goes wrong lands in an attribute the DOM
// dump shows, whatever Chromium's own logging prints.
const CATCHER: &str = r#"<script>(function(){var errs=[];function put(){
document.documentElement.setAttribute("data-test-errors",JSON.stringify(errs));}
window.addEventListener("error",function(e){errs.push("error: "+e.message);put();},true);
window.addEventListener("unhandledrejection",function(e){errs.push("rejection: "+e.reason);put();});
var ce=console.error;console.error=function(){errs.push("console.error: "+Array.prototype.join.call(arguments," "));put();ce.apply(console,arguments);};
put();
window.addEventListener("load",function(){var d=document.documentElement;
var mark=document.querySelector("svg .mark");
if(mark){mark.dispatchEvent(new MouseEvent("mousemove",{bubbles:true,clientX:20,clientY:20}));
var tip=document.getElementById("tip");d.setAttribute("data-test-tip",tip&&tip.style.display==="block"?tip.textContent:"");}
var items=document.querySelectorAll(".legend-item");d.setAttribute("data-test-legend",String(items.length));
if(items.length){items[0].dispatchEvent(new MouseEvent("click",{bubbles:true}));
d.setAttribute("data-test-hidden",String(document.querySelectorAll(".hidden").length));}});
})();</script>"#;

/// What the browser made of a page.
pub struct Loaded {
    /// The DOM after scripts ran.
    pub dom: String,
    /// A 1200×800 screenshot.
    pub screenshot: PathBuf,
}

/// Loads `html` in headless Chromium with no network, after injecting the error catcher;
/// panics when the page logged an error, when its own script did not finish (it sets
/// `data-benchmem-ready`) or when the screenshot is one colour.
pub fn check_page(html: &Path, work: &Path) -> Loaded {
    let text = std::fs::read_to_string(html).expect("read the page");
    let at = text.find("<head>").expect("the page has a <head>") + "<head>".len();
    let page = work.join("page.html");
    std::fs::write(&page, format!("{}{CATCHER}{}", &text[..at], &text[at..])).expect("write");
    let url = format!("file://{}", page.display());
    let dom = run(work, &["--dump-dom", &url]);
    let errors = attr(&dom, "data-test-errors")
        .unwrap_or_else(|| panic!("the error catcher never ran in {}", html.display()));
    assert_eq!(errors, "[]", "{}: errors in the browser", html.display());
    assert_eq!(
        attr(&dom, "data-benchmem-ready").as_deref(),
        Some("1"),
        "{}: the page's script did not finish",
        html.display()
    );
    // Hovering a mark shows its text; clicking a legend entry hides its series.
    if dom.contains("class=\"mark") {
        let tip = attr(&dom, "data-test-tip").unwrap_or_default();
        assert!(
            !tip.trim().is_empty(),
            "{}: hovering a mark shows no tooltip",
            html.display()
        );
    }
    let legend: usize = attr(&dom, "data-test-legend")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if legend > 0 {
        let hidden: usize = attr(&dom, "data-test-hidden")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            hidden > 0,
            "{}: clicking a legend entry hid nothing",
            html.display()
        );
    }
    let shot = work.join("shot.png");
    let arg = format!("--screenshot={}", shot.display());
    run(work, &[&arg, "--window-size=1200,800", &url]);
    assert!(
        !one_colour(&shot),
        "{}: the screenshot is blank",
        html.display()
    );
    Loaded {
        dom,
        screenshot: shot,
    }
}

/// Runs Chromium headless on `args` with its profile in `work`, within a minute.
fn run(work: &Path, args: &[&str]) -> String {
    let profile = work.join("profile");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait for chromium").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took more than 90 s on {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("reader")
}

/// The value of the first `name="..."` attribute in `dom`, unescaped.
pub fn attr(dom: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = dom.find(&key)? + key.len();
    let end = dom[start..].find('"')? + start;
    Some(unescape(&dom[start..end]))
}

/// XML/HTML entities back to text.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Whether every pixel of the PNG at `path` has the same colour.
pub fn one_colour(path: &Path) -> bool {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("screenshot written"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let px = info.color_type.samples() * (info.bit_depth as usize).div_ceil(8);
    let data = &buf[..info.buffer_size()];
    let first = &data[..px];
    data.chunks(px).all(|c| c == first)
}

/// What a flame graph did in the browser when a frame was hovered and clicked.
#[allow(dead_code)] // used by the end-to-end flame graph test, not by every includer
pub struct Flame {
    /// The details line the hover wrote (`Function: NAME (N bytes, P%)`).
    pub details: String,
    /// Frames hidden by the click's zoom.
    pub hidden: usize,
}

/// Loads the flame graph at `svg` (an SVG file, or an HTML page that holds it inline) in
/// headless Chromium (a copy with probes added),
/// hovers the first frame whose text starts with `frame` and clicks it; panics when the
/// page logged an error, when no such frame exists or when the click did not zoom.
#[allow(dead_code)] // used by the end-to-end flame graph test, not by every includer
pub fn check_flamegraph(svg: &Path, frame: &str, work: &Path) -> Flame {
    let text = std::fs::read_to_string(svg).expect("read the SVG");
    let open = text.find("<svg").expect("an <svg> element");
    let open = text[open..].find('>').expect("the <svg> tag ends") + open + 1;
    let close = text.rfind("</svg>").expect("the </svg> tag");
    let catcher = r#"<script><![CDATA[window.addEventListener("error",function(e){document.documentElement.setAttribute("data-test-errors",String(e.message));},true);]]></script>"#;
    let probe = format!(
        r##"<script><![CDATA[window.addEventListener("load",function(){{setTimeout(function(){{var d=document.documentElement;
var gs=[].slice.call(document.querySelectorAll("#frames > g"));
var t=gs.filter(function(g){{return g.querySelector("title").textContent.indexOf({frame:?})==0;}})[0];
d.setAttribute("data-test-found",String(!!t));if(!t)return;
var r=t.querySelector("rect");r.dispatchEvent(new MouseEvent("mouseover",{{bubbles:true}}));
d.setAttribute("data-test-details",document.getElementById("details").textContent);
r.dispatchEvent(new MouseEvent("click",{{bubbles:true}}));
d.setAttribute("data-test-unzoom",document.getElementById("unzoom").getAttribute("class")||"");
d.setAttribute("data-test-hidden",String(document.querySelectorAll("#frames > g.hide").length));}},0);}});]]></script>"##
    );
    let ext = svg.extension().and_then(|e| e.to_str()).unwrap_or("svg");
    let page = work.join(format!("probe.{ext}"));
    let probed = format!(
        "{}{catcher}{}{probe}{}",
        &text[..open],
        &text[open..close],
        &text[close..]
    );
    std::fs::write(&page, probed).expect("write");
    let url = format!("file://{}", page.display());
    let dom = run(work, &["--dump-dom", &url]);
    assert_eq!(
        attr(&dom, "data-test-errors"),
        None,
        "{}: errors in the browser",
        svg.display()
    );
    assert_eq!(
        attr(&dom, "data-test-found").as_deref(),
        Some("true"),
        "{}: no frame starting with {frame:?} (or the page's script never ran)",
        svg.display()
    );
    let unzoom = attr(&dom, "data-test-unzoom").unwrap_or_default();
    assert!(
        !unzoom.contains("hide"),
        "{}: clicking a frame did not zoom",
        svg.display()
    );
    Flame {
        details: attr(&dom, "data-test-details").unwrap_or_default(),
        hidden: attr(&dom, "data-test-hidden")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    }
}
