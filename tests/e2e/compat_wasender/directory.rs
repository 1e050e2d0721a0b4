//! Seed 001 "Contacts" and "Groups" (and the number/LID look-ups) with the
//! seed's example bodies and response shapes, plain and `paginated=true`.

use http::Method;
use serde_json::{Value, json};
use wagate_tests::backends;

use super::{Api, assert_shape, expect, linked_session, start_server};

const PHONE_A: &str = "+14155550621";
const PHONE_B: &str = "+14155550622";
const PHONE_C: &str = "+14155550623";
const NOBODY: &str = "+14155550629";

fn jid(phone: &str) -> String {
    format!("{}@s.whatsapp.net", phone.trim_start_matches('+'))
}

fn contact_example() -> Value {
    json!({"jid": "1234567890", "name": "Contact Name", "notify": "Contact Display Name",
           "verifiedName": "Verified Business Name", "imgUrl": "https://profile.pic.url/image.jpg",
           "status": "Hey there! I am using WhatsApp."})
}

fn pagination_example(item: Value) -> Value {
    json!({"success": true, "data": {"items": [item],
        "pagination": {"total": 1, "page": 1, "limit": 20, "totalPages": 1}}})
}

#[tokio::test]
async fn contact_endpoints_answer_in_the_seeds_shapes() {
    for backend in backends() {
        let server = start_server(backend).await;
        let api = Api::of(&server);
        let (_, key) = linked_session(&api, &server, PHONE_A).await;
        linked_session(&api, &server, PHONE_B).await;
        let b = PHONE_B.trim_start_matches('+');

        let saved = expect(
            &api.call(
                Method::PUT,
                "/api/contacts",
                Some(&key),
                Some(json!({"jid": jid(PHONE_B), "fullName": "John Doe", "saveOnPrimaryAddressbook": false})),
            )
            .await,
            200,
            "upsert",
        );
        assert_eq!(
            saved,
            json!({"success": true, "data": {"jid": jid(PHONE_B), "fullName": "John Doe"}})
        );
        let missing = expect(
            &api.call(
                Method::PUT,
                "/api/contacts",
                Some(&key),
                Some(json!({"fullName": "x"})),
            )
            .await,
            422,
            "upsert without jid",
        );
        assert_eq!(missing["errors"]["jid"][0], "The jid field is required.");

        let all = expect(
            &api.call(Method::GET, "/api/contacts", Some(&key), None)
                .await,
            200,
            "contacts",
        );
        assert_shape(
            &all,
            &json!({"success": true, "data": [contact_example()]}),
            "contacts",
        );
        assert!(
            all["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == "John Doe"),
            "{all}"
        );
        let paged = expect(
            &api.call(
                Method::GET,
                "/api/contacts?paginated=true&page=1&limit=20",
                Some(&key),
                None,
            )
            .await,
            200,
            "contacts paginated",
        );
        assert_shape(
            &paged,
            &pagination_example(contact_example()),
            "contacts paginated",
        );
        assert_eq!(paged["data"]["pagination"]["limit"], 20);

        let info = expect(
            &api.call(Method::GET, &format!("/api/contacts/{b}"), Some(&key), None)
                .await,
            200,
            "contact info",
        );
        assert_shape(
            &info,
            &json!({"success": true, "data": {"id": "1234567890@placeholder.net", "name": "Contact Name",
                "notify": "Notification Name", "verifiedName": null, "imgUrl": null, "status": null}}),
            "contact info",
        );
        let picture = expect(
            &api.call(
                Method::GET,
                &format!("/api/contacts/{b}/picture"),
                Some(&key),
                None,
            )
            .await,
            200,
            "contact picture",
        );
        assert_shape(
            &picture,
            &json!({"success": true, "data": {"imgUrl": "https://profile.pic.url/image.jpg"}}),
            "picture",
        );
        for (action, message) in [
            ("block", "Contact blocked"),
            ("unblock", "Contact unblocked"),
        ] {
            let answer = expect(
                &api.call(
                    Method::POST,
                    &format!("/api/contacts/{b}/{action}"),
                    Some(&key),
                    None,
                )
                .await,
                200,
                action,
            );
            assert_eq!(
                answer,
                json!({"success": true, "data": {"message": message}})
            );
        }

        for (phone, exists) in [(PHONE_B, true), (NOBODY, false)] {
            let checked = expect(
                &api.call(
                    Method::GET,
                    &format!("/api/on-whatsapp/{phone}"),
                    Some(&key),
                    None,
                )
                .await,
                200,
                "on-whatsapp",
            );
            assert_eq!(
                checked,
                json!({"success": true, "data": {"exists": exists}})
            );
        }
        let lid = expect(
            &api.call(
                Method::GET,
                &format!("/api/lid-from-pn/{}", jid(PHONE_B)),
                Some(&key),
                None,
            )
            .await,
            200,
            "lid-from-pn",
        );
        assert_shape(
            &lid,
            &json!({"success": true, "data": {"lid": "1234567890@lid"}}),
            "lid",
        );
        let lid = lid["data"]["lid"].as_str().unwrap().to_owned();
        assert!(lid.ends_with("@lid"), "{lid}");
        let pn = expect(
            &api.call(
                Method::GET,
                &format!("/api/pn-from-lid/{lid}"),
                Some(&key),
                None,
            )
            .await,
            200,
            "pn-from-lid",
        );
        assert_eq!(pn, json!({"success": true, "data": {"pn": jid(PHONE_B)}}));
        server.stop().await;
    }
}

#[tokio::test]
async fn group_endpoints_answer_in_the_seeds_shapes() {
    for backend in backends() {
        let server = start_server(backend).await;
        let api = Api::of(&server);
        let (_, key_a) = linked_session(&api, &server, PHONE_A).await;
        let (_, key_b) = linked_session(&api, &server, PHONE_B).await;
        let (_, key_c) = linked_session(&api, &server, PHONE_C).await;

        let created = expect(
            &api.call(
                Method::POST,
                "/api/groups",
                Some(&key_a),
                Some(json!({"name": "My New Group", "participants": [PHONE_B.trim_start_matches('+')]})),
            )
            .await,
            200,
            "create group",
        );
        assert_shape(
            &created,
            &json!({"success": true, "data": {"id": "123456789-987654321@g.us", "owner": "1122334455@s.whatsapp.net",
                "subject": "My New Group", "creation": 1678886400,
                "participants": [{"id": "1122334455@s.whatsapp.net", "admin": "superadmin"}]}}),
            "create group",
        );
        let group = created["data"]["id"].as_str().unwrap().to_owned();
        assert!(group.ends_with("@g.us"));
        let group_path = format!("/api/groups/{group}");

        let group_item =
            json!({"jid": "123456789-987654321@g.us", "name": "Group Name", "imgUrl": null});
        let listed = expect(
            &api.call(Method::GET, "/api/groups", Some(&key_a), None)
                .await,
            200,
            "groups",
        );
        assert_shape(
            &listed,
            &json!({"success": true, "data": [group_item.clone()]}),
            "groups",
        );
        assert_eq!(listed["data"][0]["name"], "My New Group");
        let paged = expect(
            &api.call(
                Method::GET,
                "/api/groups?paginated=true",
                Some(&key_a),
                None,
            )
            .await,
            200,
            "groups paginated",
        );
        assert_shape(&paged, &pagination_example(group_item), "groups paginated");
        assert_eq!(paged["data"]["pagination"]["total"], 1);

        let metadata = expect(
            &api.call(
                Method::GET,
                &format!("{group_path}/metadata"),
                Some(&key_a),
                None,
            )
            .await,
            200,
            "metadata",
        );
        assert_shape(
            &metadata,
            &json!({"success": true, "data": {"jid": "1@g.us", "subject": "Group Subject", "creation": 1678886400,
                "owner": "owner_id", "desc": "Group Description",
                "participants": [{"jid": "123456789", "isAdmin": true, "isSuperAdmin": false}]}}),
            "metadata",
        );
        assert_eq!(
            metadata["data"]["participants"].as_array().unwrap().len(),
            2
        );

        let participants = expect(
            &api.call(
                Method::GET,
                &format!("{group_path}/participants"),
                Some(&key_a),
                None,
            )
            .await,
            200,
            "participants",
        );
        assert_shape(
            &participants,
            &json!({"success": true, "data": [{"id": "123456789012345@lid"}]}),
            "participants",
        );
        assert!(
            participants["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["admin"] == "superadmin"),
            "{participants}"
        );

        let promoted = expect(
            &api.call(
                Method::PUT,
                &format!("{group_path}/participants/update"),
                Some(&key_a),
                Some(json!({"action": "promote", "participants": [jid(PHONE_B)]})),
            )
            .await,
            200,
            "promote",
        );
        assert_shape(
            &promoted,
            &json!({"success": true, "data": {"participants": ["111111111@s.whatsapp.net"]}}),
            "promote",
        );
        assert_eq!(
            promoted["data"]["participants"].as_array().unwrap().len(),
            1
        );

        let settings = expect(
            &api.call(
                Method::PUT,
                &format!("{group_path}/settings"),
                Some(&key_a),
                Some(json!({"subject": "New Group Subject", "description": "New Group Description", "announce": false, "restrict": true})),
            )
            .await,
            200,
            "settings",
        );
        assert_eq!(
            settings,
            json!({"success": true, "data": {"subject": "New Group Subject", "description": "New Group Description"}})
        );
        let picture = api
            .call(
                Method::GET,
                &format!("{group_path}/picture"),
                Some(&key_a),
                None,
            )
            .await;
        match picture.status.as_u16() {
            200 => assert_shape(
                &picture.json(),
                &json!({"success": true, "data": {"imgUrl": null}}),
                "group picture",
            ),
            404 => assert_eq!(picture.json()["success"], false),
            other => panic!("group picture: {other} {}", picture.text()),
        }

        let link = expect(
            &api.call(
                Method::GET,
                &format!("{group_path}/invite-link"),
                Some(&key_a),
                None,
            )
            .await,
            200,
            "invite link",
        );
        assert_shape(
            &link,
            &json!({"success": true, "inviteLink": "https://chat.whatsapp.com/I8mjkHnC984Ubg3EVkzqxz"}),
            "invite link",
        );
        let code = link["inviteLink"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let invite = expect(
            &api.call(
                Method::GET,
                &format!("/api/groups/invite/{code}"),
                Some(&key_c),
                None,
            )
            .await,
            200,
            "invite info",
        );
        assert_shape(
            &invite,
            &json!({"success": true, "data": {"id": "1@g.us", "subject": "Official Project Group",
                "owner": "1@s.whatsapp.net", "creation": 1672531200, "size": 42, "desc": "d",
                "participants": [{"id": "111111111@s.whatsapp.net", "admin": "superadmin"}]}}),
            "invite info",
        );
        assert_eq!(invite["data"]["subject"], "New Group Subject");
        let accepted = expect(
            &api.call(
                Method::POST,
                "/api/groups/invite/accept",
                Some(&key_c),
                Some(json!({"code": code})),
            )
            .await,
            200,
            "accept",
        );
        assert_eq!(accepted, json!({"success": true, "data": {"id": group}}));

        let removed = expect(
            &api.call(
                Method::POST,
                &format!("{group_path}/participants/remove"),
                Some(&key_a),
                Some(json!({"participants": [PHONE_C.trim_start_matches('+')]})),
            )
            .await,
            200,
            "remove",
        );
        let result_example = json!({"success": true, "data": [{"status": 200, "jid": "123456789", "message": "removed"}]});
        assert_shape(&removed, &result_example, "remove");
        assert_eq!(removed["data"][0]["status"], 200);
        let added = expect(
            &api.call(
                Method::POST,
                &format!("{group_path}/participants/add"),
                Some(&key_a),
                Some(json!({"participants": [PHONE_C.trim_start_matches('+')]})),
            )
            .await,
            200,
            "add",
        );
        assert_shape(&added, &result_example, "add");
        assert_eq!(added["data"][0]["message"], "added");

        let left = expect(
            &api.call(
                Method::POST,
                &format!("{group_path}/leave"),
                Some(&key_b),
                None,
            )
            .await,
            200,
            "leave",
        );
        assert_eq!(left, json!({"success": true, "data": {}}));
        let not_member = api
            .call(
                Method::POST,
                &format!("{group_path}/leave"),
                Some(&key_b),
                None,
            )
            .await;
        assert!(not_member.status.is_client_error(), "{}", not_member.text());
        assert_eq!(not_member.json()["success"], false);
        server.stop().await;
    }
}
