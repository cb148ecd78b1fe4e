//! The HTML page around a picture: the SVG inline, a tooltip and legend toggling in a few
//! lines of inline script, nothing fetched (no CDN, no fonts), so it opens offline and
//! stays about as small as the SVG itself.

use super::svg::esc;

const CSS: &str = "body{margin:0;padding:16px;background:#fff;color:#222;\
font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif}\
svg{max-width:100%;height:auto}.hidden{display:none}.legend-item.off{opacity:.35}\
#tip{position:absolute;display:none;pointer-events:none;background:rgba(255,255,255,.96);\
border:1px solid #999;border-radius:4px;padding:6px 8px;font-size:12px;white-space:pre;\
box-shadow:0 2px 6px rgba(0,0,0,.15);z-index:10}";

// Each mark's <title> becomes the tooltip's text (and leaves, so the browser's own tooltip
// does not show twice); a legend entry hides or shows every element of its series.
const SCRIPT: &str = r#"(function(){
var tip=document.getElementById("tip");
document.querySelectorAll("svg .mark").forEach(function(m){
var t=m.querySelector("title");if(!t)return;m.setAttribute("data-tip",t.textContent);t.remove();});
document.addEventListener("mousemove",function(e){
var m=e.target.closest?e.target.closest("[data-tip]"):null;
if(!m){tip.style.display="none";return;}
tip.textContent=m.getAttribute("data-tip");tip.style.display="block";
tip.style.left=(e.pageX+14)+"px";tip.style.top=(e.pageY+14)+"px";});
document.querySelectorAll(".legend-item").forEach(function(g){
g.addEventListener("click",function(){
var s=g.getAttribute("data-series"),off=!g.classList.contains("off");g.classList.toggle("off",off);
document.querySelectorAll('[data-series="'+s+'"]:not(.legend-item)').forEach(function(el){
el.classList.toggle("hidden",off);});});});
document.documentElement.setAttribute("data-benchmem-ready","1");
})();"#;

/// A self-contained page showing `svg`, titled `title`.
pub fn page(title: &str, svg: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n{svg}<div id=\"tip\"></div>\
         <script>{SCRIPT}</script></body></html>\n",
        esc(title)
    )
}
