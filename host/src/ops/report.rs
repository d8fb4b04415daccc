//! `photosync report`: one self-contained HTML page of the results kept in the results stream
//! (optionally since a time): per event the person, the outcome and its reason, and for photos
//! photosync wrote, the photo before and after as images (from the backup bucket), with filters
//! by outcome. Nothing in the page is fetched from elsewhere; every text from events or the
//! directory is escaped.

use std::collections::HashMap;
use std::fmt::Write as _;

use base64::Engine as _;

use super::{OUTCOMES, Summary};
use crate::backup::{Backups, Record};
use crate::bus::Bus;
use crate::events::PhotoResult;

/// One row: a final result and the backup of its write, if any.
#[derive(Debug)]
struct Row {
    time: String,
    result: PhotoResult,
    before: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
}

/// Builds the page from the final results since `since` (seconds since 1970).
pub async fn build(bus: &Bus, backups: &Backups, since: Option<u64>) -> anyhow::Result<String> {
    let since = since.map_or(i64::MIN, |s| i64::try_from(s).unwrap_or(i64::MAX));
    let mut latest: HashMap<String, (String, PhotoResult)> = HashMap::new();
    let mut order = Vec::new();
    for message in bus.stored(&bus.names().results_stream).await? {
        if message.time.unix_timestamp() < since {
            continue;
        }
        let Ok(result) = serde_json::from_slice::<PhotoResult>(&message.payload) else {
            continue;
        };
        if !result.is_final {
            continue;
        }
        // Seconds are enough for a person reading the page.
        let time = message
            .time
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
            .chars()
            .take(19)
            .collect::<String>()
            .replace('T', " ")
            + " UTC";
        if latest
            .insert(result.event_id.clone(), (time, result.clone()))
            .is_none()
        {
            order.push(result.event_id);
        }
    }
    // One record per event; thumbnailPhoto's when an event wrote several attributes.
    let mut written: HashMap<String, Record> = HashMap::new();
    for record in backups.records().await? {
        let thumbnail = record.attribute.eq_ignore_ascii_case("thumbnailPhoto");
        match written.get(&record.event_id) {
            Some(_) if !thumbnail => {}
            _ => {
                written.insert(record.event_id.clone(), record);
            }
        }
    }
    let mut rows = Vec::with_capacity(order.len());
    for id in order {
        let Some((time, result)) = latest.remove(&id) else {
            continue;
        };
        let (before, after) = match written.get(&id) {
            Some(record) => (
                backups.first_before(record).await?,
                Some(backups.after(record).await?),
            ),
            None => (None, None),
        };
        rows.push(Row {
            time,
            result,
            before,
            after,
        });
    }
    Ok(render(&rows))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn image(bytes: Option<&Vec<u8>>, label: &str) -> String {
    match bytes {
        Some(b) if !b.is_empty() => format!(
            "<img class=\"photo\" alt=\"{label}\" src=\"data:image/jpeg;base64,{}\">",
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
        _ => format!("<span class=\"none\">no {label}</span>"),
    }
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:24px;color:#222}\
h1{font-size:20px}table{border-collapse:collapse;width:100%}\
th,td{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:middle}\
th{background:#f4f4f4}.photo{width:96px;height:96px;object-fit:contain;background:#eee}\
.none{color:#999;font-size:12px}.o{font-weight:600;padding:2px 6px;border-radius:4px;white-space:nowrap}\
.t{white-space:nowrap}\
.written{background:#d7f5dd}.unchanged{background:#eee}.no-match,.ambiguous,.superseded{background:#fff1c7}\
.rejected,.failed{background:#ffd6d6}#broken{display:none;color:#a00;font-weight:600}\
.filters label{margin-right:14px}.reason{max-width:520px;font-size:12px;color:#444}";

/// Filters rows by the ticked outcomes; marks the body with how many images decoded.
const SCRIPT: &str = "function f(){var on={};document.querySelectorAll('.filters input').forEach(\
function(i){on[i.value]=i.checked});document.querySelectorAll('tbody tr').forEach(function(r){\
r.style.display=on[r.dataset.outcome]?'':'none'})}\
document.querySelectorAll('.filters input').forEach(function(i){i.addEventListener('change',f)});\
window.addEventListener('load',function(){var ok=0,bad=0;document.querySelectorAll('img.photo')\
.forEach(function(i){if(i.complete&&i.naturalWidth>0){ok++}else{bad++}});\
document.body.dataset.imagesOk=ok;document.body.dataset.imagesBroken=bad;\
if(bad>0){var b=document.getElementById('broken');b.textContent=bad+' image(s) could not be shown';\
b.style.display='block'}});";

fn render(rows: &[Row]) -> String {
    let summary: Summary = rows.iter().map(|r| &r.result).collect();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>photosync report</title><style>{STYLE}</style></head><body>\
         <h1>photosync report</h1><p>{} results: {}</p><p id=\"broken\"></p><p class=\"filters\">",
        rows.len(),
        escape(&summary.one_line())
    );
    for o in OUTCOMES {
        let _ = write!(
            html,
            "<label><input type=\"checkbox\" value=\"{0}\" checked> {0} ({1})</label>",
            o.as_str(),
            summary.count(o)
        );
    }
    html.push_str(
        "</p><table><thead><tr><th>time</th><th>person</th><th>file</th><th>outcome</th>\
         <th>before</th><th>after</th><th>reason</th></tr></thead><tbody>",
    );
    for row in rows {
        let r = &row.result;
        let reason = r.reason.clone().unwrap_or_else(|| {
            r.attributes
                .iter()
                .map(|a| format!("{}: {}", a.attribute, a.reason))
                .collect::<Vec<_>>()
                .join("; ")
        });
        let _ = write!(
            html,
            "<tr data-outcome=\"{o}\"><td class=\"t\">{}</td><td>{}</td><td>{}</td>\
             <td><span class=\"o {o}\">{o}</span></td><td>{}</td><td>{}</td>\
             <td class=\"reason\">{}</td></tr>",
            escape(&row.time),
            escape(r.entry_dn.as_deref().unwrap_or("—")),
            escape(r.file_name.as_deref().unwrap_or("—")),
            if row.after.is_some() {
                image(row.before.as_ref(), "photo before")
            } else {
                String::new()
            },
            if row.after.is_some() {
                image(row.after.as_ref(), "photo after")
            } else {
                String::new()
            },
            escape(&reason),
            o = r.outcome.as_str(),
        );
    }
    let _ = writeln!(
        html,
        "</tbody></table><script>{SCRIPT}</script></body></html>"
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_events_is_escaped() {
        let mut result = PhotoResult::new("e1".into(), 1);
        result.file_name = Some("<img src=x onerror=alert(1)>.jpg".into());
        result.reason = Some("a \"quoted\" & <b>bold</b> reason".into());
        let html = render(&[Row {
            time: "2026-11-21T10:00:00Z".into(),
            result,
            before: None,
            after: None,
        }]);
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.jpg"));
        assert!(html.contains("a &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt; reason"));
    }
}
