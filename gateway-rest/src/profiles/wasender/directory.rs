//! WasenderAPI response shapes of contacts, LIDs and groups.

use serde_json::{Value, json};

use super::shapes::{data, epoch_seconds, items, text_or_null};
use crate::profiles::{Inputs, Reply};

pub fn on_whatsapp(response: &Value, _: &Inputs) -> Reply {
    let exists = response["results"][0]["exists"].as_bool().unwrap_or(false);
    data(json!({"exists": exists}))
}

fn contact_fields(contact: &Value, id_key: &str) -> Value {
    json!({
        id_key: contact["jid"],
        "name": text_or_null(&contact["fullName"]),
        "notify": text_or_null(&contact["pushName"]),
        "verifiedName": text_or_null(&contact["verifiedName"]),
        "imgUrl": text_or_null(&contact["pictureUri"]),
        "status": text_or_null(&contact["about"]),
    })
}

/// `data.items` + `data.pagination` with `paginated=true`, else a plain list.
fn listing(page: &Value, inputs: &Inputs, rows: Vec<Value>) -> Reply {
    let paged = inputs
        .query
        .get("paginated")
        .is_some_and(|v| matches!(v.as_str(), "true" | "1"));
    if !paged {
        return data(Value::Array(rows));
    }
    data(json!({
        "items": rows,
        "pagination": {
            "total": page["total"],
            "page": page["page"],
            "limit": page["size"],
            "totalPages": page["lastPage"],
        }
    }))
}

pub fn contact_list(page: &Value, inputs: &Inputs) -> Reply {
    let rows = items(page)
        .iter()
        .map(|c| contact_fields(c, "jid"))
        .collect();
    listing(page, inputs, rows)
}

pub fn contact_info(contact: &Value, _: &Inputs) -> Reply {
    data(contact_fields(contact, "id"))
}

pub fn contact_saved(contact: &Value, inputs: &Inputs) -> Reply {
    data(json!({
        "jid": inputs.body.get("jid").cloned().unwrap_or_else(|| contact["jid"].clone()),
        "fullName": contact["fullName"],
    }))
}

/// Contact and group pictures: `{"imgUrl": …}` (null without a picture).
pub fn picture(response: &Value, _: &Inputs) -> Reply {
    data(json!({"imgUrl": text_or_null(&response["uri"])}))
}

pub fn blocked(_: &Value, _: &Inputs) -> Reply {
    data(json!({"message": "Contact blocked"}))
}

pub fn unblocked(_: &Value, _: &Inputs) -> Reply {
    data(json!({"message": "Contact unblocked"}))
}

pub fn lid(mapping: &Value, _: &Inputs) -> Reply {
    data(json!({"lid": mapping["lid"]}))
}

pub fn pn(mapping: &Value, _: &Inputs) -> Reply {
    data(json!({"pn": mapping["phoneJid"]}))
}

/// `superadmin`, `admin`, or null for members.
fn admin_word(participant: &Value) -> Value {
    match participant["role"].as_str().unwrap_or("") {
        "GROUP_PARTICIPANT_ROLE_SUPERADMIN" => json!("superadmin"),
        "GROUP_PARTICIPANT_ROLE_ADMIN" => json!("admin"),
        _ => Value::Null,
    }
}

fn participants_with_admin(group: &Value) -> Vec<Value> {
    group["participants"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| json!({"id": p["jid"], "admin": admin_word(p)}))
                .collect()
        })
        .unwrap_or_default()
}

pub fn group_created(group: &Value, _: &Inputs) -> Reply {
    data(json!({
        "id": group["jid"],
        "owner": group["owner"],
        "subject": group["subject"],
        "creation": epoch_seconds(&group["createTime"]),
        "participants": participants_with_admin(group),
    }))
}

pub fn group_list(page: &Value, inputs: &Inputs) -> Reply {
    let rows = items(page)
        .iter()
        .map(|g| {
            json!({
                "jid": g["jid"],
                "name": g["subject"],
                "imgUrl": text_or_null(&g["pictureUri"]),
            })
        })
        .collect();
    listing(page, inputs, rows)
}

pub fn group_metadata(group: &Value, _: &Inputs) -> Reply {
    let participants: Vec<Value> = group["participants"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| {
                    let admin = admin_word(p);
                    json!({
                        "jid": p["jid"],
                        "isAdmin": !admin.is_null(),
                        "isSuperAdmin": admin == "superadmin",
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    data(json!({
        "jid": group["jid"],
        "subject": group["subject"],
        "creation": epoch_seconds(&group["createTime"]),
        "owner": group["owner"],
        "desc": group["description"],
        "participants": participants,
    }))
}

/// `[{"id"}, {"id", "admin": "superadmin"}]`: `admin` only for admins.
pub fn participants(page: &Value, _: &Inputs) -> Reply {
    let rows = items(page)
        .iter()
        .map(|p| {
            let mut row = json!({"id": p["jid"]});
            let admin = admin_word(p);
            if !admin.is_null() {
                row["admin"] = admin;
            }
            row
        })
        .collect();
    data(Value::Array(rows))
}

fn participant_results(response: &Value, done: &str) -> Reply {
    let rows = response["results"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|r| {
                    let ok = r["success"].as_bool().unwrap_or(false);
                    let status = match r["code"].as_i64() {
                        Some(code) if code > 0 => code,
                        _ if ok => 200,
                        _ => 400,
                    };
                    let message = match r["reason"].as_str() {
                        Some(reason) if !reason.is_empty() && !ok => reason.to_owned(),
                        _ => done.to_owned(),
                    };
                    json!({"status": status, "jid": r["jid"], "message": message})
                })
                .collect()
        })
        .unwrap_or_default();
    data(Value::Array(rows))
}

pub fn participants_added(response: &Value, _: &Inputs) -> Reply {
    participant_results(response, "added")
}

pub fn participants_removed(response: &Value, _: &Inputs) -> Reply {
    participant_results(response, "removed")
}

/// The participants whose role changed.
pub fn participants_updated(response: &Value, _: &Inputs) -> Reply {
    let changed: Vec<Value> = response["results"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|r| r["success"].as_bool() == Some(true))
                .map(|r| r["jid"].clone())
                .collect()
        })
        .unwrap_or_default();
    data(json!({"participants": changed}))
}

pub fn group_settings(group: &Value, _: &Inputs) -> Reply {
    data(json!({"subject": group["subject"], "description": group["description"]}))
}

pub fn invite_link(response: &Value, _: &Inputs) -> Reply {
    Reply::json(json!({"success": true, "inviteLink": response["inviteLink"]}))
}

pub fn invite_info(group: &Value, _: &Inputs) -> Reply {
    data(json!({
        "id": group["jid"],
        "subject": group["subject"],
        "owner": group["owner"],
        "creation": epoch_seconds(&group["createTime"]),
        "size": group["size"],
        "desc": group["description"],
        "participants": participants_with_admin(group),
    }))
}

pub fn invite_accepted(response: &Value, _: &Inputs) -> Reply {
    data(json!({"id": response["jid"]}))
}

pub fn left(_: &Value, _: &Inputs) -> Reply {
    data(json!({}))
}
