//! Discovery (RFC 7644 §4): what the server supports, its one resource type and the
//! schemas of its users, with the values Interlib accepts as their canonical values.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use serde_json::{Value, json};

use super::{MAX_COUNT, ScimError, base, list_response, scim_json};
use crate::service::scim::EXTENSION;

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(req: HttpRequest) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [scim_v2::schema_urns::SERVICE_PROVIDER_CONFIG],
            "documentationUri": "https://github.com/interlib/interlib/blob/main/docs/partners.md#scim",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": true },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The association's Interlib token, as `Authorization: Bearer <token>`.",
                "primary": true,
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{}/ServiceProviderConfig", base(&req)) },
        }),
    )
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [scim_v2::schema_urns::RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A member of the association: a membership of the network's librarian. Every member has Interlib's extension (a new user sent without it gets its defaults).",
        "schema": scim_v2::schema_urns::USER,
        "schemaExtensions": [{ "schema": EXTENSION, "required": true }],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
    })
}

/// `GET /ResourceTypes` and `GET /ResourceTypes/User`.
pub async fn resource_types(req: HttpRequest) -> HttpResponse {
    let base = base(&req);
    match req.match_info().get("name") {
        None => scim_json(StatusCode::OK, &list_response(vec![user_resource_type(&base)], 1, 1)),
        Some("User") => scim_json(StatusCode::OK, &user_resource_type(&base)),
        Some(_) => ScimError::new(StatusCode::NOT_FOUND, None, "no such resource type").response(),
    }
}

fn attribute(name: &str, kind: &str, multi: bool, description: &str) -> Value {
    let mut attribute = json!({
        "name": name, "type": kind, "multiValued": multi, "description": description,
        "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none",
    });
    if kind == "reference" {
        attribute["referenceTypes"] = json!(["external"]);
    }
    attribute
}

/// A string attribute whose values are one of `values` (its `canonicalValues`: the only
/// ones the sync accepts, so a client, or a compliance checker filling in values, can pick
/// valid ones). RFC 7643 gives canonical values to strings only.
fn one_of(name: &str, kind: &str, multi: bool, description: &str, values: Vec<Value>) -> Value {
    let mut attribute = attribute(name, kind, multi, description);
    attribute["canonicalValues"] = Value::Array(values);
    attribute
}

/// `attribute` marked required: what a new member cannot do without.
fn required(mut attribute: Value) -> Value {
    attribute["required"] = json!(true);
    attribute
}

/// A complex attribute with its sub-attributes.
fn complex(name: &str, multi: bool, description: &str, sub: Vec<Value>) -> Value {
    let mut attribute = attribute(name, "complex", multi, description);
    attribute["subAttributes"] = Value::Array(sub);
    attribute
}

/// ISO 3166-1 alpha-2 codes, as the countries table holds them.
fn countries() -> Vec<Value> {
    keshvar::CountryIterator::new().map(|c| json!(c.alpha2().to_string().to_uppercase())).collect()
}

/// ISO 639-1 codes.
fn languages() -> Vec<Value> {
    isolang::languages().filter_map(|l| l.to_639_1()).map(|code| json!(code)).collect()
}

/// The parts of a multi-valued attribute of kinds (`phoneNumbers`, `ims`, `photos`, ...).
fn values_of(kind: &str, description: &str, kinds: &[&str]) -> Vec<Value> {
    let kind_of = if kinds.is_empty() {
        attribute("type", "string", false, "Its kind.")
    } else {
        one_of("type", "string", false, "Its kind.", kinds.iter().map(|k| json!(k)).collect())
    };
    vec![
        attribute("value", kind, false, description),
        attribute("display", "string", false, "How it is shown."),
        kind_of,
        attribute("primary", "boolean", false, "Whether it is the preferred one."),
    ]
}

/// The core User (RFC 7643 §4.1). Interlib keeps the email (the primary, or first, of
/// `emails`), the name, the country (of the primary, or first, address), `title` and
/// `active` itself; every other attribute is the association's directory's record of the
/// member, kept as sent and returned as it was.
fn core_user(base: &str) -> Value {
    let kinds = ["work", "home", "other"];
    json!({
        "schemas": [scim_v2::schema_urns::SCHEMA],
        "id": scim_v2::schema_urns::USER,
        "name": "User",
        "description": "A member of the association.",
        "attributes": [
            json!({ "name": "externalId", "type": "string", "multiValued": false, "required": true, "caseExact": true,
                    "mutability": "readWrite", "returned": "default", "uniqueness": "server",
                    "description": "The association's own member id, the key of its syncs (defaults to `userName`); a new value renames the member, and must not be another member's." }),
            json!({ "name": "userName", "type": "string", "multiValued": false, "required": true, "caseExact": false,
                    "mutability": "readWrite", "returned": "default", "uniqueness": "server",
                    "description": "The member's login name in the association's directory; their email when `emails` gives none." }),
            required(complex("name", false, "The member's name: `formatted`, or `givenName` and `familyName`.", vec![
                required(attribute("formatted", "string", false, "The full name, the one Interlib shows.")),
                attribute("familyName", "string", false, "The family name."),
                attribute("givenName", "string", false, "The given name."),
                attribute("middleName", "string", false, "The middle name."),
                attribute("honorificPrefix", "string", false, "Such as Dr."),
                attribute("honorificSuffix", "string", false, "Such as III."),
            ])),
            attribute("displayName", "string", false, "The name the directory shows (the member's name when it sent none)."),
            attribute("nickName", "string", false, "A casual name."),
            attribute("profileUrl", "reference", false, "A page about the member."),
            attribute("title", "string", false, "Job title."),
            attribute("userType", "string", false, "The directory's kind of user."),
            attribute("preferredLanguage", "string", false, "Such as en-AU."),
            attribute("locale", "string", false, "Such as en-AU."),
            attribute("timezone", "string", false, "Such as Australia/Sydney."),
            required(attribute("active", "boolean", false, "`false` deactivates the membership (nothing is deleted); a new member is active unless it says `false`.")),
            required(complex("emails", true, "The primary (or first) email is the member's email, unique in the network.", vec![
                required(attribute("value", "string", false, "An email address.")),
                attribute("display", "string", false, "How it is shown."),
                one_of("type", "string", false, "The kind of address.", kinds.iter().map(|k| json!(k)).collect()),
                attribute("primary", "boolean", false, "Whether this is the member's email."),
            ])),
            complex("phoneNumbers", true, "Phone numbers.", values_of("string", "A phone number.", &["work", "home", "mobile", "fax", "pager", "other"])),
            complex("ims", true, "Instant messaging addresses.", values_of("string", "An address.", &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"])),
            complex("photos", true, "Pictures of the member.", values_of("reference", "A picture's URL.", &["photo", "thumbnail"])),
            required(complex("addresses", true, "The primary (or first) address gives the member's country.", vec![
                attribute("formatted", "string", false, "The whole address."),
                attribute("streetAddress", "string", false, "Street."),
                attribute("locality", "string", false, "City."),
                attribute("region", "string", false, "State or region."),
                attribute("postalCode", "string", false, "Postal code."),
                required(one_of("country", "string", false, "ISO 3166-1 alpha-2 code.", countries())),
                one_of("type", "string", false, "The kind of address.", kinds.iter().map(|k| json!(k)).collect()),
                attribute("primary", "boolean", false, "Whether this is the member's address."),
            ])),
            complex("entitlements", true, "What the member is entitled to.", values_of("string", "An entitlement.", &[])),
            complex("roles", true, "The member's roles.", values_of("string", "A role.", &[])),
            complex("x509Certificates", true, "Certificates.", values_of("binary", "A DER certificate, base64.", &[])),
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", scim_v2::schema_urns::USER) },
    })
}

fn interlib_user(base: &str) -> Value {
    let sectors = crate::domain::Sector::ALL.iter().map(|s| json!(s.as_str())).collect();
    json!({
        "schemas": [scim_v2::schema_urns::SCHEMA],
        "id": EXTENSION,
        "name": "InterlibUser",
        "description": "What the network knows of a librarian beyond SCIM's core User.",
        "attributes": [
            attribute("institution", "string", false, "Where they work."),
            required(one_of("sector", "string", false, "The kind of institution they work in (OTHER for a new member without one).", sectors)),
            required(attribute("yearsExperience", "integer", false, "Years in the profession, 0 to 70 (0 for a new member without them).")),
            required(one_of("languages", "string", true, "ISO 639-1 codes of their working languages (1 to 10).", languages())),
            attribute("interests", "string", true, "Professional interests (at most 20 of 50 characters)."),
            json!({ "name": "consent", "type": "string", "multiValued": false, "required": false,
                    "caseExact": true, "mutability": "readOnly", "returned": "default", "uniqueness": "none",
                    "canonicalValues": ["CONFIRMED", "PENDING", "DECLINED"],
                    "description": "CONFIRMED, PENDING (a link to someone already in the network, until they confirm) or DECLINED." }),
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{EXTENSION}") },
    })
}

fn all_schemas(base: &str) -> Vec<Value> {
    vec![core_user(base), interlib_user(base)]
}

/// `GET /Schemas` and `GET /Schemas/{id}`.
pub async fn schemas(req: HttpRequest) -> HttpResponse {
    let all = all_schemas(&base(&req));
    match req.match_info().get("id") {
        None => scim_json(StatusCode::OK, &list_response(all, 1, 2)),
        Some(id) => match all.into_iter().find(|s| s["id"] == id) {
            Some(schema) => scim_json(StatusCode::OK, &schema),
            None => ScimError::new(StatusCode::NOT_FOUND, None, "no such schema").response(),
        },
    }
}
