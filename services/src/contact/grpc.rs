//! ContactService over gRPC: decode, authorize, validate, call the domain
//! (`service`), encode.

use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;
use wagate_proto::v1::contact_service_server::ContactService;

use super::service::{ContactId, Contacts};
use crate::api::{
    authorize, authorize_session, decode_text_page_token, encode_text_page_token, page_size,
    session_id, timestamp,
};
use crate::auth::Authenticator;
use crate::error::{Error, FieldViolation, Result};
use crate::message::model::normalize_chat;
use crate::session::model::SessionId;
use crate::store::{ContactRow, FilterValue};
use crate::validate::phone_digits;

const MAX_CHECK: usize = 50;

/// The ContactService handler.
pub struct ContactApi {
    contacts: Contacts,
    auth: Authenticator,
}

impl ContactApi {
    pub fn new(contacts: Contacts, auth: Authenticator) -> Self {
        Self { contacts, auth }
    }
}

/// Parses a contact name; `{contact}` is a phone number, phone-number JID or LID.
pub fn parse_contact_name(name: &str, field: &str) -> Result<(SessionId, ContactId)> {
    let invalid = || {
        Error::invalid_field(
            field,
            format!(
                "{name:?} is not a contact name like sessions/1/contacts/+14155550123 (a phone number, \
                 phone-number JID or LID)"
            ),
        )
    };
    let rest = name.strip_prefix("sessions/").ok_or_else(invalid)?;
    let (session, contact) = rest.split_once("/contacts/").ok_or_else(invalid)?;
    let session = session_id(&format!("sessions/{session}"), field)?;
    Ok((session, contact_id(contact, field)?))
}

/// A phone number, phone-number JID or LID as a contact id.
fn contact_id(input: &str, field: &str) -> Result<ContactId> {
    let jid = normalize_chat(input).map_err(|e| Error::invalid_field(field, e))?;
    if jid.ends_with("@s.whatsapp.net") || jid.ends_with("@lid") {
        Ok(ContactId(jid))
    } else {
        Err(Error::invalid_field(
            field,
            format!("{input:?} is not a contact: give a phone number, phone-number JID or LID"),
        ))
    }
}

pub fn contact_pb(session: SessionId, row: &ContactRow) -> pb::Contact {
    pb::Contact {
        name: format!("sessions/{session}/contacts/{}", row.jid),
        jid: row.jid.clone(),
        phone_number: row.phone_number.clone(),
        lid: row.lid.clone(),
        full_name: row.full_name.clone(),
        first_name: row.first_name.clone(),
        push_name: row.push_name.clone(),
        verified_name: row.verified_name.clone(),
        picture_uri: row.picture_uri.clone(),
        about: row.about.clone(),
        business: row.business,
        blocked: row.blocked,
        in_address_book: row.in_address_book,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}

/// ListContacts' filter: `blocked`, `business`, `in_address_book` = true/false.
fn contact_filter(filter: &str) -> Result<crate::filter::Conditions> {
    crate::filter::parse(filter, |field, op, value| {
        let column = match field {
            "blocked" | "business" | "in_address_book" => field,
            other => {
                return Err(format!(
                    "unknown field `{other}`; filter on blocked, business or in_address_book"
                ));
            }
        };
        if op != "=" && op != "!=" {
            return Err(format!("`{field}` supports = and !="));
        }
        let value = match value {
            "true" => 1,
            "false" => 0,
            other => return Err(format!("`{field}` is true or false, not {other:?}")),
        };
        let op = if op == "!=" { "<>" } else { "=" };
        Ok((format!("{column} {op} ?"), FilterValue::Int(value)))
    })
    .map_err(|e| Error::invalid_field("filter", e))
}

#[tonic::async_trait]
impl ContactService for ContactApi {
    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 100, 1000)?;
        let filter = contact_filter(&request.filter)?;
        let after = decode_text_page_token(&request.page_token, &request.filter)?;
        let page = self
            .contacts
            .list(session, &filter, after.as_deref(), limit)
            .await?;
        Ok(Response::new(pb::ListContactsResponse {
            contacts: page
                .contacts
                .iter()
                .map(|c| contact_pb(session, c))
                .collect(),
            next_page_token: encode_text_page_token(page.last_jid.as_deref(), &request.filter),
            total_size: page.total as i32,
        }))
    }

    async fn get_contact(
        &self,
        request: Request<pb::GetContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let (session, id) = authorize(&self.auth, &request, || {
            parse_contact_name(&request.get_ref().name, "name")
        })
        .await?;
        let row = self.contacts.get(session, &id).await?;
        Ok(Response::new(contact_pb(session, &row)))
    }

    async fn upsert_contact(
        &self,
        request: Request<pb::UpsertContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let name = request
            .get_ref()
            .contact
            .as_ref()
            .map(|c| c.name.clone())
            .ok_or_else(|| Error::invalid_field("contact", "is required"))?;
        let (session, id) = authorize(&self.auth, &request, || {
            parse_contact_name(&name, "contact.name")
        })
        .await?;
        let request = request.into_inner();
        let contact = request.contact.unwrap_or_default();
        let paths = request
            .update_mask
            .map(|m| m.paths)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| vec!["full_name".into(), "first_name".into()]);
        let mut full_name = None;
        let mut first_name = None;
        let mut violations = Vec::new();
        for path in &paths {
            match path.as_str() {
                "full_name" | "fullName" => full_name = Some(contact.full_name.trim().to_owned()),
                "first_name" | "firstName" => {
                    first_name = Some(contact.first_name.trim().to_owned())
                }
                other => violations.push(FieldViolation::new(
                    "update_mask",
                    format!("{other:?} cannot be changed; use full_name or first_name"),
                )),
            }
        }
        for (field, value) in [
            ("contact.full_name", &full_name),
            ("contact.first_name", &first_name),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > 256) {
                violations.push(FieldViolation::new(field, "is longer than 256 characters"));
            }
        }
        if !violations.is_empty() {
            return Err(Error::invalid(violations).into());
        }
        let row = self
            .contacts
            .upsert(
                session,
                &id,
                full_name,
                first_name,
                request.save_on_primary_address_book,
            )
            .await?;
        Ok(Response::new(contact_pb(session, &row)))
    }

    async fn get_contact_picture(
        &self,
        request: Request<pb::GetContactPictureRequest>,
    ) -> Result<Response<pb::ContactPicture>, Status> {
        let (session, id) = authorize(&self.auth, &request, || {
            parse_contact_name(&request.get_ref().name, "name")
        })
        .await?;
        let preview = request.get_ref().preview;
        let picture = self
            .contacts
            .picture(session, &id, preview)
            .await?
            .unwrap_or_default();
        Ok(Response::new(pb::ContactPicture {
            contact: format!("sessions/{session}/contacts/{}", id.0),
            uri: picture.uri,
            picture_id: picture.id,
            preview,
        }))
    }

    async fn block_contact(
        &self,
        request: Request<pb::BlockContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let (session, id) = authorize(&self.auth, &request, || {
            parse_contact_name(&request.get_ref().name, "name")
        })
        .await?;
        let row = self.contacts.set_blocked(session, &id, true).await?;
        Ok(Response::new(contact_pb(session, &row)))
    }

    async fn unblock_contact(
        &self,
        request: Request<pb::UnblockContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let (session, id) = authorize(&self.auth, &request, || {
            parse_contact_name(&request.get_ref().name, "name")
        })
        .await?;
        let row = self.contacts.set_blocked(session, &id, false).await?;
        Ok(Response::new(contact_pb(session, &row)))
    }

    async fn check_on_whats_app(
        &self,
        request: Request<pb::CheckOnWhatsAppRequest>,
    ) -> Result<Response<pb::CheckOnWhatsAppResponse>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let numbers = request.into_inner().phone_numbers;
        if numbers.is_empty() || numbers.len() > MAX_CHECK {
            return Err(Error::invalid_field(
                "phone_numbers",
                format!("has {} numbers; give 1 to {MAX_CHECK}", numbers.len()),
            )
            .into());
        }
        let mut digits = Vec::with_capacity(numbers.len());
        let mut violations = Vec::new();
        for (i, number) in numbers.iter().enumerate() {
            match phone_digits(number) {
                Ok(d) => digits.push(d),
                Err(e) => violations.push(FieldViolation::new(format!("phone_numbers[{i}]"), e)),
            }
        }
        if !violations.is_empty() {
            return Err(Error::invalid(violations).into());
        }
        let mut results = self.contacts.check(session, &digits).await?;
        // Answer with the numbers as asked.
        for (result, asked) in results.iter_mut().zip(&numbers) {
            asked.clone_into(&mut result.phone_number);
        }
        Ok(Response::new(pb::CheckOnWhatsAppResponse { results }))
    }

    async fn get_lid_for_phone(
        &self,
        request: Request<pb::GetLidForPhoneRequest>,
    ) -> Result<Response<pb::LidMapping>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let input = request.into_inner().phone_number;
        let id = contact_id(&input, "phone_number")?;
        let phone = id.phone_number().ok_or_else(|| {
            Error::invalid_field(
                "phone_number",
                "is a LID; give a phone number or phone-number JID",
            )
        })?;
        let lid = self
            .contacts
            .lid_for_phone(session, phone.trim_start_matches('+'))
            .await?;
        Ok(Response::new(pb::LidMapping {
            phone_number: phone,
            phone_jid: id.0,
            lid,
        }))
    }

    async fn get_phone_for_lid(
        &self,
        request: Request<pb::GetPhoneForLidRequest>,
    ) -> Result<Response<pb::LidMapping>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let input = request.into_inner().lid;
        let input = input.trim();
        let lid = if input.contains('@') {
            input.to_owned()
        } else {
            format!("{input}@lid")
        };
        let valid = lid
            .strip_suffix("@lid")
            .is_some_and(|user| !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return Err(Error::invalid_field(
                "lid",
                format!("{input:?} is not a LID like 123456789012345@lid"),
            )
            .into());
        }
        let phone = self.contacts.phone_for_lid(session, &lid).await?;
        Ok(Response::new(pb::LidMapping {
            phone_jid: format!("{}@s.whatsapp.net", phone.trim_start_matches('+')),
            phone_number: phone,
            lid,
        }))
    }
}
