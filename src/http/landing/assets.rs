//! The landing page's inline style and script: no external files, so the page works offline and behind any proxy.

/// Long values (SDDL strings, DNs, SKU names) break anywhere rather than widen the page: `overflow-wrap:anywhere`
/// also lowers the min-content width, so table cells and flex items shrink to the viewport instead of overflowing.
pub const STYLE: &str = "\
*{box-sizing:border-box}\
html{-webkit-text-size-adjust:100%}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.45;color:#1f2328;margin:0 auto;\
padding:1.5em 2em 3em;max-width:78em;overflow-wrap:anywhere;word-break:break-word}\
h1{font-size:1.6em;margin:.2em 0}h2{margin:1.6em 0 .4em;padding-top:.6em;border-top:2px solid #d0d7de}\
h3{margin:1.2em 0 .5em;font-size:1.05em;text-transform:uppercase;letter-spacing:.04em;color:#57606a}\
h4{margin:0 0 .3em;font-size:1.05em}\
a{color:#0969da}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}\
table{border-collapse:collapse;width:100%;max-width:100%}\
td,th{border:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
th{background:#f6f8fa}\
.PASS{color:#1a7f37}.WARN{color:#9a6700}.FAIL,.ERROR,.failed{color:#cf222e}.pending{color:#57606a}\
.badge{display:inline-block;min-width:3.6em;text-align:center;font-size:.8em;font-weight:700;padding:.1em .4em;\
border-radius:.3em;color:#fff;margin-right:.4em;vertical-align:.1em}\
.badge.PASS{background:#1a7f37}.badge.WARN{background:#9a6700}.badge.FAIL,.badge.ERROR{background:#cf222e}\
.banner{border:1px solid #d0d7de;border-left-width:.5em;border-radius:.4em;padding:.8em 1em;margin:1em 0}\
.banner.FAIL,.banner.ERROR{border-left-color:#cf222e;background:#fff5f5}.banner.WARN{border-left-color:#9a6700;\
background:#fff8e6}.banner.PASS{border-left-color:#1a7f37;background:#f0fff4}\
.banner .verdict{font-size:1.15em;font-weight:600;margin:0 0 .5em;color:#1f2328}\
.banner td,.banner th{background:transparent}\
.group{border:1px solid #d0d7de;border-left-width:.35em;border-radius:.4em;padding:.7em 1em;margin:.8em 0}\
.group.FAIL,.group.ERROR{border-left-color:#cf222e}.group.WARN{border-left-color:#9a6700}\
.group.pending{border-left-color:#57606a}\
.group,.banner,.banner th{color:#1f2328}.group h4{color:#1f2328}\
.meta{margin:.1em 0 .5em;font-size:.85em;color:#57606a}\
.subjects{margin:.3em 0;padding-left:1.2em}.subjects li{margin:.25em 0}\
.subject{font-weight:600}.observed{color:#424a53}\
.fix{margin:.6em 0 0}.fix p{margin:.2em 0;font-weight:600}\
.code{position:relative;margin:.3em 0}\
pre{margin:0;padding:.6em 4.5em .6em .8em;background:#f6f8fa;border:1px solid #d0d7de;border-radius:.3em;\
white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}\
.copy{position:absolute;top:.3em;right:.3em;font-size:.8em;padding:.15em .6em;cursor:pointer}\
details summary{cursor:pointer}.passed{padding-left:1.2em}.passed li{margin:.15em 0}\
.explain fieldset{border:1px solid #d0d7de;border-radius:.4em;padding:.6em 1em;display:flex;flex-wrap:wrap;\
gap:.6em 1.2em;align-items:flex-end}.explain legend{font-weight:600}\
.explain label{display:flex;flex-direction:column;font-size:.9em;min-width:0;max-width:100%}\
.explain select,.explain input{font:inherit;padding:.2em .3em;max-width:100%}\
.explain input{width:24em}.explain select{width:16em}\
.probes td:nth-child(1),.probes td:nth-child(2){white-space:nowrap}\
";

/// Shows the copy buttons (hidden without script) and copies the fix next to each; the page works without it.
pub const SCRIPT: &str = "\
(function(){if(!navigator.clipboard){return;}\
document.querySelectorAll('button.copy').forEach(function(b){b.hidden=false;\
b.addEventListener('click',function(){var c=b.parentNode.querySelector('code');\
navigator.clipboard.writeText(c.textContent).then(function(){b.textContent='Copied';\
setTimeout(function(){b.textContent='Copy';},1500);});});});})();";
