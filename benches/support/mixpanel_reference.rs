//! The obvious alternative to phi-scrub, for the benchmarks: the same jobs done on a
//! `serde_json::Value` (parse, edit the tree, serialise), with the `hmac` crate.
#![allow(dead_code)] // each includer uses a different job

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

pub struct Reference {
    pub mac: Hmac<Sha256>,
}

impl Reference {
    pub fn hash(&self, text: &str) -> String {
        hex::encode(self.mac.clone().chain_update(text.as_bytes()).finalize().into_bytes())
    }

    pub fn scrub_deny(&self, event: &[u8]) -> Option<Vec<u8>> {
        let mut v: Value = serde_json::from_slice(event).ok()?;
        let obj = v.as_object_mut()?;
        for key in ["userId", "anonymousId"] {
            if let Some(Value::String(s)) = obj.get(key) {
                let h = self.hash(s);
                obj.insert(key.into(), Value::String(h));
            }
        }
        if let Some(Value::Object(p)) = obj.get_mut("properties") {
            p.remove("firstname");
            p.remove("lastname");
            if let Some(Value::String(e)) = p.get("email") {
                let h = self.hash(&e.trim().to_lowercase());
                p.insert("email".into(), Value::String(h));
            }
        }
        if let Some(Value::Object(c)) = obj.get_mut("context") {
            c.remove("ip");
            c.remove("traits");
            if let Some(Value::Object(page)) = c.get_mut("page") {
                page.remove("search");
            }
            if let Some(Value::Object(d)) = c.get_mut("device") {
                d.remove("advertisingId");
            }
        }
        serde_json::to_vec(&v).ok()
    }

    pub fn mixpanel(&self, event: &[u8]) -> Option<Vec<u8>> {
        const ALLOW: &[&str] =
            &["specialty", "plan", "results_count", "appointment_type", "filters", "page", "sort", "distance_miles"];
        let v: Value = serde_json::from_slice(event).ok()?;
        let obj = v.as_object()?;
        let name = obj.get("event")?.as_str()?;
        let user =
            obj.get("userId").and_then(Value::as_str).or_else(|| obj.get("anonymousId").and_then(Value::as_str))?;
        let ts = obj.get("timestamp")?.as_str()?;
        let time = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()?;
        let mut props = Map::new();
        if let Some(Value::Object(p)) = obj.get("properties") {
            for (k, val) in p {
                if k == "email" {
                    if let Value::String(e) = val {
                        props.insert(k.clone(), Value::String(self.hash(&e.trim().to_lowercase())));
                    }
                } else if ALLOW.contains(&k.as_str()) {
                    props.insert(k.clone(), val.clone());
                }
            }
        }
        let message = obj.get("messageId").and_then(Value::as_str).unwrap_or_default();
        props.insert("token".into(), json!("bench-token"));
        props.insert("distinct_id".into(), json!(self.hash(user)));
        props.insert("time".into(), json!((time.unix_timestamp_nanos() / 1_000_000) as i64));
        props.insert("$insert_id".into(), json!(self.hash(message)[..32].to_owned()));
        props.insert("ip".into(), json!("0"));
        serde_json::to_vec(&json!({"event": name, "properties": props})).ok()
    }
}
