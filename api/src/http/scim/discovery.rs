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
        "description": "A member of the association: a membership of the network's librarian.",
        "schema": scim_v2::schema_urns::USER,
        "schemaExtensions": [{ "schema": EXTENSION, "required": false }],
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
    json!({
        "name": name, "type": kind, "multiValued": multi, "description": description,
        "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none",
    })
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

fn core_user(base: &str) -> Value {
    let kinds = || vec![json!("work"), json!("home"), json!("other")];
    json!({
        "schemas": [scim_v2::schema_urns::SCHEMA],
        "id": scim_v2::schema_urns::USER,
        "name": "User",
        "description": "A member of the association.",
        "attributes": [
            json!({ "name": "externalId", "type": "string", "multiValued": false, "required": false, "caseExact": true,
                    "mutability": "immutable", "returned": "default", "uniqueness": "server",
                    "description": "The association's own member id, the key of its syncs (defaults to `userName`); set once, at creation." }),
            json!({ "name": "userName", "type": "string", "multiValued": false, "required": true, "caseExact": false,
                    "mutability": "readWrite", "returned": "default", "uniqueness": "server",
                    "description": "The member's email (or another login name, when `emails` gives the email); the key when there is no `externalId`." }),
            required(complex("name", false, "The member's name: `formatted`, or `givenName` and `familyName`.", vec![
                required(attribute("formatted", "string", false, "The full name.")),
                attribute("givenName", "string", false, "The given name."),
                attribute("familyName", "string", false, "The family name."),
            ])),
            attribute("displayName", "string", false, "The member's name as shown, when there is no `name`."),
            attribute("title", "string", false, "Job title."),
            attribute("active", "boolean", false, "`false` deactivates the membership (nothing is deleted)."),
            required(complex("emails", true, "The primary (or first) email is the member's email, unique in the network.", vec![
                required(attribute("value", "string", false, "An email address.")),
                one_of("type", "string", false, "The kind of address.", kinds()),
                attribute("primary", "boolean", false, "Whether this is the member's email."),
            ])),
            required(complex("addresses", true, "The primary (or first) address gives the member's country.", vec![
                required(one_of("country", "string", false, "ISO 3166-1 alpha-2 code.", countries())),
                one_of("type", "string", false, "The kind of address.", kinds()),
                attribute("primary", "boolean", false, "Whether this is the member's address."),
            ])),
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
            one_of("sector", "string", false, "The kind of institution they work in.", sectors),
            attribute("yearsExperience", "integer", false, "Years in the profession (0 to 70)."),
            one_of("languages", "string", true, "ISO 639-1 codes of their working languages (1 to 10).", languages()),
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
