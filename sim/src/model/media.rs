//! Media: files a business uploads (`POST /{phone-number-id}/media`) and files
//! users send (inbound image, video, audio, document and sticker messages), kept
//! per world, read by id (`GET /{media-id}`), downloaded through a short-lived URL
//! and deleted by id (`DELETE /{media-id}`).
//!
//! The platform's rules, from Meta's media reference
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media/>,
//! supported types and sizes at
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types>):
//! - an upload names its file's MIME type; a type outside the supported list is
//!   refused with error 100, whose message lists the types (the message as
//!   integrations met it: <https://github.com/fbsamples/whatsapp-api-examples/issues/10>,
//!   <https://github.com/MissaelAnda/laravel-whatsapp/issues/4>);
//! - each kind has a size limit (image 5 MB, audio and video 16 MB, document
//!   100 MB, sticker 100 KB static and 500 KB animated); a file over it is refused
//!   with 131053 "Media upload error" (the code is Meta's for media it cannot take:
//!   <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>;
//!   that the upload itself answers it is UNCONFIRMED). MB is read as MiB
//!   (UNCONFIRMED);
//! - a media URL is valid for 5 minutes; uploaded media ids last 30 days, ids of
//!   media users sent 7 days.
//!
//! What the simulator adds: every stored byte counts against
//! `limits.media_bytes_max` of the world (past it an upload or an inbound media
//! message is refused with 131000 and nothing stored is lost), and at most
//! [`MEDIA_OBJECTS_MAX`] media are kept at once. Media ids are 16 digits drawn from
//! the seed's media stream: the same seed gives the same ids.

use std::collections::BTreeMap;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::error::{PlatformError, code};
use super::id::{MediaId, PhoneNumberId};
use super::refusal::{Object, Refusal};
use super::secret::Secret;
use super::time::SimTime;
use super::{Effect, Reply, Surface, World};
use crate::trace::TraceEvent;

/// A kibibyte.
pub const KIB: u64 = 1024;
/// A mebibyte.
pub const MIB: u64 = 1024 * KIB;

/// Largest audio file (16 MB).
pub const AUDIO_BYTES_MAX: u64 = 16 * MIB;
/// Largest document (100 MB).
pub const DOCUMENT_BYTES_MAX: u64 = 100 * MIB;
/// Largest image (5 MB).
pub const IMAGE_BYTES_MAX: u64 = 5 * MIB;
/// Largest static sticker (100 KB).
pub const STICKER_BYTES_MAX: u64 = 100 * KIB;
/// Largest animated sticker (500 KB).
pub const STICKER_ANIMATED_BYTES_MAX: u64 = 500 * KIB;
/// Largest video (16 MB).
pub const VIDEO_BYTES_MAX: u64 = 16 * MIB;

/// How long a media URL answered by `GET /{media-id}` can be downloaded, in
/// virtual milliseconds (5 minutes).
pub const URL_VALID_MS: u64 = 5 * 60 * 1000;

/// How long an uploaded media id lasts, in virtual milliseconds (30 days).
pub const UPLOADED_MEDIA_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// How long the id of media a user sent lasts, in virtual milliseconds (7 days).
pub const INBOUND_MEDIA_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

/// Most media a world keeps at once (a bound of the simulator's; Meta publishes
/// none): past it an upload is refused with 131000 until media are deleted or
/// expire.
pub const MEDIA_OBJECTS_MAX: usize = 100_000;

/// The path of media download URLs on the simulator (Meta's own URLs are on
/// `lookaside.fbsbx.com` under the same path; 360dialog serves it too:
/// <https://docs.360dialog.com/partner/messaging/media-messages/upload-retrieve-delete-media>).
pub const DOWNLOAD_PATH: &str = "/whatsapp_business/attachments/";

/// The kinds of media message, each with its MIME types and size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaKind {
    /// `audio`: AAC, AMR, MP3, MP4 audio, OGG (Opus).
    Audio,
    /// `document`: text, PDF and Microsoft Office files.
    Document,
    /// `image`: JPEG and PNG.
    Image,
    /// `sticker`: WebP.
    Sticker,
    /// `video`: MP4 and 3GPP.
    Video,
}

/// Every MIME type an upload takes, with its kind, in the order of Meta's error
/// message (then `video/3gp`, the spelling of Meta's supported-types table).
const TYPES: &[(&str, MediaKind)] = &[
    ("audio/aac", MediaKind::Audio),
    ("audio/mp4", MediaKind::Audio),
    ("audio/mpeg", MediaKind::Audio),
    ("audio/amr", MediaKind::Audio),
    ("audio/ogg", MediaKind::Audio),
    ("audio/opus", MediaKind::Audio),
    ("application/vnd.ms-powerpoint", MediaKind::Document),
    ("application/msword", MediaKind::Document),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        MediaKind::Document,
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        MediaKind::Document,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        MediaKind::Document,
    ),
    ("application/pdf", MediaKind::Document),
    ("text/plain", MediaKind::Document),
    ("application/vnd.ms-excel", MediaKind::Document),
    ("image/jpeg", MediaKind::Image),
    ("image/png", MediaKind::Image),
    ("image/webp", MediaKind::Sticker),
    ("video/mp4", MediaKind::Video),
    ("video/3gpp", MediaKind::Video),
    ("video/3gp", MediaKind::Video),
];

/// How many of [`TYPES`] Meta's refusal lists (all but the `video/3gp` alias).
const TYPES_LISTED: usize = 19;

impl MediaKind {
    /// Every kind.
    pub const ALL: [MediaKind; 5] = [
        MediaKind::Audio,
        MediaKind::Document,
        MediaKind::Image,
        MediaKind::Sticker,
        MediaKind::Video,
    ];

    /// The kind's name, as a message's `type` says it (`image`).
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Image => "image",
            MediaKind::Sticker => "sticker",
            MediaKind::Video => "video",
        }
    }

    /// The kind called `name` (`image`).
    pub fn from_name(name: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The kind a file of MIME type `mime` is sent as (parameters such as
    /// `; codecs=opus` and case are ignored), if any kind takes it.
    pub fn of_mime(mime: &str) -> Option<MediaKind> {
        let essence = mime_essence(mime);
        TYPES
            .iter()
            .find(|(listed, _)| *listed == essence)
            .map(|(_, kind)| *kind)
    }

    /// Whether a message of this kind takes a file of MIME type `mime`.
    pub fn accepts(self, mime: &str) -> bool {
        MediaKind::of_mime(mime) == Some(self)
    }

    /// The MIME types this kind takes.
    pub fn mime_types(self) -> impl Iterator<Item = &'static str> {
        TYPES
            .iter()
            .filter(move |(_, kind)| *kind == self)
            .map(|(mime, _)| *mime)
    }

    /// The largest file of this kind, in bytes (`animated` matters for stickers).
    pub fn bytes_max(self, animated: bool) -> u64 {
        match self {
            MediaKind::Audio => AUDIO_BYTES_MAX,
            MediaKind::Document => DOCUMENT_BYTES_MAX,
            MediaKind::Image => IMAGE_BYTES_MAX,
            MediaKind::Sticker if animated => STICKER_ANIMATED_BYTES_MAX,
            MediaKind::Sticker => STICKER_BYTES_MAX,
            MediaKind::Video => VIDEO_BYTES_MAX,
        }
    }

    /// The MIME type inbound media of this kind has when none is given.
    pub fn default_mime(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio/ogg",
            MediaKind::Document => "application/pdf",
            MediaKind::Image => "image/jpeg",
            MediaKind::Sticker => "image/webp",
            MediaKind::Video => "video/mp4",
        }
    }
}

/// Whether a message of kind `kind` (`image`, `audio`, …) takes a file of MIME
/// type `mime`. False for an unknown kind.
pub fn media_kind_accepts(kind: &str, mime: &str) -> bool {
    MediaKind::from_name(kind).is_some_and(|kind| kind.accepts(mime))
}

/// A MIME type without its parameters, trimmed and lowercased
/// (`Audio/OGG; codecs=opus` → `audio/ogg`).
pub fn mime_essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether `bytes` is an animated WebP: a `VP8X` header with the animation flag
/// (<https://developers.google.com/speed/webp/docs/riff_container>).
pub fn is_animated_webp(bytes: &[u8]) -> bool {
    bytes.len() >= 21
        && &bytes[0..4] == b"RIFF"
        && &bytes[8..12] == b"WEBP"
        && &bytes[12..16] == b"VP8X"
        && bytes[20] & 0x02 != 0
}

/// The lowercase hex SHA-256 of `bytes`, as Graph reports a file's `sha256`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bytes of inbound media given without any: the type's file signature
/// (magic bytes) and a line naming it a placeholder. Not a decodable file; a
/// request that needs real bytes gives them (`data`).
pub fn placeholder(mime: &str, animated: bool) -> Vec<u8> {
    let essence = mime_essence(mime);
    let note = format!("wasim placeholder {essence}\n");
    let mut out: Vec<u8> = match essence.as_str() {
        "image/jpeg" => vec![0xFF, 0xD8, 0xFF, 0xE0],
        "image/png" => b"\x89PNG\r\n\x1a\n".to_vec(),
        "image/webp" => {
            let mut webp = b"RIFF\0\0\0\0WEBP".to_vec();
            if animated {
                webp.extend_from_slice(b"VP8X\x0a\0\0\0\x02\0\0\0\0\0\0\0\0\0");
            } else {
                webp.extend_from_slice(b"VP8 ");
            }
            webp
        }
        "application/pdf" => b"%PDF-1.4\n%".to_vec(),
        "audio/ogg" | "audio/opus" => b"OggS".to_vec(),
        "audio/mpeg" => b"ID3".to_vec(),
        "audio/aac" => vec![0xFF, 0xF1],
        "audio/amr" => b"#!AMR\n".to_vec(),
        "audio/mp4" => b"\0\0\0\x18ftypM4A ".to_vec(),
        "video/mp4" => b"\0\0\0\x18ftypmp42".to_vec(),
        "video/3gpp" | "video/3gp" => b"\0\0\0\x18ftyp3gp4".to_vec(),
        "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint" => {
            vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]
        }
        office if office.starts_with("application/vnd.openxmlformats") => b"PK\x03\x04".to_vec(),
        _ => Vec::new(),
    };
    out.extend_from_slice(note.as_bytes());
    if essence == "image/webp" {
        // The RIFF size: everything after the first 8 bytes.
        let size = u32::try_from(out.len() - 8).unwrap_or(u32::MAX);
        out[4..8].copy_from_slice(&size.to_le_bytes());
    }
    out
}

/// Where a media came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaOrigin {
    /// Uploaded by the business (`POST /{phone-number-id}/media`); lasts 30 days.
    Uploaded,
    /// Sent by a user in a message; lasts 7 days.
    Inbound,
}

/// One stored media file.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// Its id.
    pub id: MediaId,
    /// The business number it belongs to.
    pub phone_number_id: PhoneNumberId,
    /// Which kind of message sends it.
    pub kind: MediaKind,
    /// Its MIME type, as given.
    pub mime_type: String,
    /// The lowercase hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// For a sticker: whether it is animated.
    pub animated: bool,
    /// The file name the upload or the user gave, if any.
    pub filename: Option<String>,
    /// Uploaded or sent by a user.
    pub origin: MediaOrigin,
    /// When it was stored.
    pub created_at: SimTime,
    bytes: Bytes,
}

impl Media {
    /// Its bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// When its id stops naming it (30 days after an upload, 7 after a user sent
    /// it).
    pub fn expires_at(&self) -> SimTime {
        let ttl = match self.origin {
            MediaOrigin::Uploaded => UPLOADED_MEDIA_TTL_MS,
            MediaOrigin::Inbound => INBOUND_MEDIA_TTL_MS,
        };
        SimTime::from_ms(self.created_at.as_ms().saturating_add(ttl))
    }

    fn live_at(&self, now: SimTime) -> bool {
        now < self.expires_at()
    }
}

/// An upload as the request brought it (`multipart/form-data`): each field if
/// present. The model decides what is missing or wrong.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaUpload {
    /// `messaging_product`.
    pub messaging_product: Option<String>,
    /// `type`: the MIME type the client declares. Required; the file part's own
    /// content type is what is checked, as on the platform.
    pub media_type: Option<String>,
    /// `file`.
    pub file: Option<UploadedFile>,
}

/// The `file` part of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    /// The part's `Content-Type`, if it had one.
    pub content_type: Option<String>,
    /// The part's file name, if it had one.
    pub filename: Option<String>,
    /// Its bytes.
    pub bytes: Bytes,
}

/// The credential a download presents: Graph's bearer token or a 360dialog
/// `D360-API-KEY` (the same URL serves both, as 360dialog relays Meta's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCredential {
    /// `Authorization: Bearer`.
    Bearer(Secret),
    /// `D360-API-KEY`.
    D360Key(Secret),
}

impl MediaCredential {
    /// The secret presented.
    pub fn secret(&self) -> &Secret {
        match self {
            MediaCredential::Bearer(secret) | MediaCredential::D360Key(secret) => secret,
        }
    }
}

/// The query of a download URL: `mid` (the media id), `ext` (the unix second the
/// URL expires at) and `hash` (the simulator's signature of both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaUrlQuery {
    /// `mid`.
    pub mid: Option<String>,
    /// `ext`.
    pub ext: Option<String>,
    /// `hash`.
    pub hash: Option<String>,
}

/// What `GET /{media-id}` answers with: the media's fields and the query of its
/// download URL (the shell puts its own address before [`DOWNLOAD_PATH`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// The media id.
    pub id: MediaId,
    /// Its MIME type.
    pub mime_type: String,
    /// Its lowercase hex SHA-256.
    pub sha256: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// `mid=…&ext=…&hash=…`.
    pub url_query: String,
}

/// The media of a world.
#[derive(Debug, Default)]
pub(crate) struct MediaStore {
    items: BTreeMap<MediaId, Media>,
    bytes_total: u64,
}

impl MediaStore {
    /// Forgets media whose id expired by `now`.
    fn purge_expired(&mut self, now: SimTime) {
        let before = self.items.len();
        self.items.retain(|_, media| media.live_at(now));
        if self.items.len() != before {
            self.bytes_total = self.items.values().map(|m| m.file_size).sum();
        }
    }

    fn remove(&mut self, id: &str) -> Option<Media> {
        let media = self.items.remove(id)?;
        self.bytes_total -= media.file_size;
        Some(media)
    }
}

/// A media to store: what [`World::store_media`] needs besides its id.
#[derive(Debug, Clone)]
pub(crate) struct NewMedia {
    pub(crate) phone_number_id: PhoneNumberId,
    pub(crate) kind: MediaKind,
    pub(crate) mime_type: String,
    pub(crate) animated: bool,
    pub(crate) filename: Option<String>,
    pub(crate) origin: MediaOrigin,
    pub(crate) bytes: Bytes,
}

/// Graph's answer to a bad parameter: code 100 with the message itself after
/// `(#100)`, as Graph words it.
fn parameter_error(message: impl Into<String>) -> Refusal {
    let message = message.into();
    Refusal::Platform(PlatformError {
        code: code::INVALID_PARAMETER,
        title: message.clone(),
        details: message,
    })
}

/// 131053 "Media upload error" with `details`.
fn upload_error(details: impl Into<String>) -> Refusal {
    Refusal::Platform(PlatformError::new(
        super::error::code::MEDIA_UPLOAD,
        details,
    ))
}

impl World {
    /// The media `id` names, if it exists and its id has not expired.
    pub fn media(&self, id: &str) -> Option<&Media> {
        self.media
            .items
            .get(id)
            .filter(|media| media.live_at(self.now))
    }

    /// Every live media, ordered by id.
    pub fn media_all(&self) -> impl Iterator<Item = &Media> {
        self.media
            .items
            .values()
            .filter(|media| media.live_at(self.now))
    }

    /// Bytes of media stored.
    pub fn media_bytes_total(&self) -> u64 {
        self.media.bytes_total
    }

    /// `POST /{phone-number-id}/media` (Graph) or `POST /media` (360dialog).
    pub(super) fn upload_media(
        &mut self,
        now: SimTime,
        surface: Surface,
        credential: Option<&Secret>,
        phone_number_id: Option<&PhoneNumberId>,
        upload: Result<MediaUpload, super::RequestError>,
    ) -> Result<Reply, Refusal> {
        let phone = self.authenticate(surface, credential, phone_number_id)?;
        let upload = upload?;
        match upload.messaging_product.as_deref() {
            None => {
                return Err(parameter_error(
                    "The parameter messaging_product is required.",
                ));
            }
            Some("whatsapp") => {}
            Some(other) => {
                return Err(parameter_error(format!(
                    "Param messaging_product must be 'whatsapp', got '{other}'."
                )));
            }
        }
        let Some(file) = upload.file else {
            return Err(parameter_error(
                "The parameter file is required: a multipart/form-data file part.",
            ));
        };
        if upload.media_type.is_none() {
            return Err(parameter_error("The parameter type is required."));
        }
        let received = file
            .content_type
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("application/octet-stream");
        let Some(kind) = MediaKind::of_mime(received) else {
            let listed: Vec<&str> = TYPES[..TYPES_LISTED].iter().map(|(t, _)| *t).collect();
            return Err(parameter_error(format!(
                "Param file must be a file with one of the following types: {}. Received file of type '{received}'.",
                listed.join(", ")
            )));
        };
        check_size(kind, received, &file.bytes)?;
        let animated = kind == MediaKind::Sticker && is_animated_webp(&file.bytes);
        let phone_number_id = self.phone_numbers[phone].spec.id.clone();
        let id = self.store_media(
            now,
            NewMedia {
                phone_number_id: PhoneNumberId::from(phone_number_id),
                kind,
                mime_type: received.to_owned(),
                animated,
                filename: file.filename,
                origin: MediaOrigin::Uploaded,
                bytes: file.bytes,
            },
        )?;
        Ok(Reply::MediaUploaded(id))
    }

    /// Stores `media` under a new id, within `limits.media_bytes_max` and
    /// [`MEDIA_OBJECTS_MAX`] (131000 past either; nothing stored is lost).
    pub(crate) fn store_media(
        &mut self,
        now: SimTime,
        media: NewMedia,
    ) -> Result<MediaId, Refusal> {
        self.media.purge_expired(now);
        let size = media.bytes.len() as u64;
        let max = self.spec.limits.media_bytes_max;
        if self.media.bytes_total.saturating_add(size) > max {
            return Err(Refusal::platform(
                code::GENERIC,
                format!(
                    "The simulator holds {} bytes of media and this file has {size}: over its limit of {max} bytes (limits.media_bytes_max); delete media (DELETE /{{media-id}}) and retry.",
                    self.media.bytes_total
                ),
            ));
        }
        if self.media.items.len() >= MEDIA_OBJECTS_MAX {
            return Err(Refusal::platform(
                code::GENERIC,
                format!(
                    "The simulator holds {MEDIA_OBJECTS_MAX} media, its limit; delete media (DELETE /{{media-id}}) and retry."
                ),
            ));
        }
        let id = self.next_media_id();
        let stored = Media {
            id: id.clone(),
            phone_number_id: media.phone_number_id,
            kind: media.kind,
            sha256: sha256_hex(&media.bytes),
            file_size: size,
            mime_type: media.mime_type,
            animated: media.animated,
            filename: media.filename,
            origin: media.origin,
            created_at: now,
            bytes: media.bytes,
        };
        self.media.bytes_total += size;
        self.media.items.insert(id.clone(), stored);
        Ok(id)
    }

    /// A new media id: 16 digits, not starting with 0, unused (template and
    /// phone-number ids have 15, so no Graph id of the world is one).
    fn next_media_id(&mut self) -> MediaId {
        loop {
            let mut id = self.media_rng.between(1, 9).to_string();
            id.push_str(&self.media_rng.digit_id(15));
            if !self.media.items.contains_key(id.as_str()) {
                return MediaId::from(id);
            }
        }
    }

    /// Media `id`, if it names media (`None` otherwise: another kind of object,
    /// perhaps); refused as unknown when `phone_number_id` (the query's) is not
    /// the media's number.
    fn media_of(
        &self,
        id: &str,
        phone_number_id: Option<&PhoneNumberId>,
    ) -> Option<Result<&Media, Refusal>> {
        let media = self.media(id)?;
        Some(match phone_number_id {
            Some(phone) if *phone != media.phone_number_id => {
                Err(Refusal::not_found(Object::Media, id))
            }
            _ => Ok(media),
        })
    }

    /// `GET /{media-id}`: `None` when `id` names no media (another kind of
    /// object, perhaps). `phone_number_id` (the query's) must be the media's
    /// number.
    pub(super) fn get_media_object(
        &self,
        now: SimTime,
        id: &str,
        phone_number_id: Option<&PhoneNumberId>,
    ) -> Option<Result<Reply, Refusal>> {
        let media = match self.media_of(id, phone_number_id)? {
            Ok(media) => media,
            Err(refusal) => return Some(Err(refusal)),
        };
        let expires = self.unix_seconds(now.plus_ms(URL_VALID_MS));
        let hash = self.media_url_hash(id, expires);
        Some(Ok(Reply::Media(MediaInfo {
            id: media.id.clone(),
            mime_type: media.mime_type.clone(),
            sha256: media.sha256.clone(),
            file_size: media.file_size,
            url_query: format!("mid={id}&ext={expires}&hash={hash}"),
        })))
    }

    /// `DELETE /{media-id}`: `None` when `id` names no media.
    pub(super) fn delete_media_object(
        &mut self,
        id: &str,
        phone_number_id: Option<&PhoneNumberId>,
    ) -> Option<Result<Reply, Refusal>> {
        if let Err(refusal) = self.media_of(id, phone_number_id)? {
            return Some(Err(refusal));
        }
        self.media.remove(id);
        Some(Ok(Reply::Done))
    }

    /// `GET` of a media URL: the file, if the credential is good (the access
    /// token, or the key of the media's number) and the URL is the simulator's,
    /// unexpired and names live media.
    pub(super) fn download_media(
        &self,
        now: SimTime,
        credential: Option<&MediaCredential>,
        query: &MediaUrlQuery,
    ) -> Result<Reply, Refusal> {
        let key_phone = match credential {
            Some(MediaCredential::D360Key(key)) => {
                Some(self.authenticate(Surface::D360, Some(key), None)?)
            }
            Some(MediaCredential::Bearer(token)) => {
                self.check_access_token(Some(token))?;
                None
            }
            None => {
                self.check_access_token(None)?;
                None
            }
        };
        let (Some(mid), Some(ext), Some(hash)) = (&query.mid, &query.ext, &query.hash) else {
            return Err(Refusal::Invalid(
                "A media URL carries mid, ext and hash: use the url GET /{media-id} answers."
                    .to_owned(),
            ));
        };
        let expires = ext.parse::<u64>().ok();
        if expires.is_none_or(|expires| self.media_url_hash(mid, expires) != *hash) {
            return Err(Refusal::Invalid(
                "The media URL is not one the simulator issued (its hash does not match): use the url GET /{media-id} answers.".to_owned(),
            ));
        }
        let expires = expires.unwrap_or_default();
        if self.unix_seconds(now) >= expires {
            return Err(Refusal::Invalid(format!(
                "The media URL expired at unix time {expires} (a URL is valid for 5 minutes): GET /{{media-id}} again for a new one."
            )));
        }
        let Some(media) = self.media(mid) else {
            return Err(Refusal::not_found(Object::Media, mid.as_str()));
        };
        if key_phone.is_some_and(|phone| {
            self.phone_numbers[phone].spec.id != media.phone_number_id.as_str()
        }) {
            return Err(Refusal::not_found(Object::Media, mid.as_str()));
        }
        Ok(Reply::MediaFile {
            mime_type: media.mime_type.clone(),
            bytes: media.bytes.clone(),
        })
    }

    /// Traces a download of a URL the simulator issued (a forged or malformed
    /// one is only a request): whether the file went out, the URL had expired,
    /// or the download was refused otherwise.
    pub(super) fn trace_download(
        &self,
        now: SimTime,
        query: &MediaUrlQuery,
        answer: &Result<Reply, Refusal>,
        effects: &mut Vec<Effect>,
    ) {
        let (Some(mid), Some(ext), Some(hash)) = (&query.mid, &query.ext, &query.hash) else {
            return;
        };
        let Some(expires) = ext.parse::<u64>().ok() else {
            return;
        };
        if self.media_url_hash(mid, expires) != *hash {
            return;
        }
        let outcome = match answer {
            Ok(_) => "downloaded",
            Err(Refusal::Invalid(_)) if self.unix_seconds(now) >= expires => "expired",
            Err(_) => "refused",
        };
        effects.push(Effect::Trace {
            at: now,
            event: TraceEvent::MediaDownloaded {
                media_id: mid.clone(),
                url_expires_s: expires,
                outcome,
            },
        });
    }

    /// The signature of a media URL: the seed, the media id and the expiry,
    /// hashed (so a URL cannot be made to last longer).
    fn media_url_hash(&self, id: &str, expires_unix_s: u64) -> String {
        let digest = Sha256::new()
            .chain_update(b"wasim media url")
            .chain_update(self.seed.to_le_bytes())
            .chain_update(id.as_bytes())
            .chain_update(expires_unix_s.to_le_bytes())
            .finalize();
        hex::encode(&digest[..16])
    }
}

/// Refuses an empty file, or one over its kind's size limit, with 131053.
pub(crate) fn check_size(kind: MediaKind, mime: &str, bytes: &[u8]) -> Result<(), Refusal> {
    if bytes.is_empty() {
        return Err(upload_error("The file is empty."));
    }
    let animated = kind == MediaKind::Sticker && is_animated_webp(bytes);
    let max = kind.bytes_max(animated);
    let size = bytes.len() as u64;
    if size > max {
        let what = if kind == MediaKind::Sticker {
            if animated {
                "an animated sticker"
            } else {
                "a static sticker"
            }
        } else {
            kind.name()
        };
        return Err(upload_error(format!(
            "The {mime} file has {size} bytes, over the limit of {max} bytes for {what} (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types)."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_takes_its_types_and_no_other() {
        assert!(media_kind_accepts("image", "image/jpeg"));
        assert!(media_kind_accepts("image", "IMAGE/PNG"));
        assert!(!media_kind_accepts("image", "image/webp"));
        assert!(media_kind_accepts("sticker", "image/webp"));
        assert!(media_kind_accepts("audio", "audio/ogg; codecs=opus"));
        assert!(media_kind_accepts("document", "text/plain"));
        assert!(media_kind_accepts("video", "video/3gpp"));
        assert!(!media_kind_accepts("video", "video/quicktime"));
        assert!(!media_kind_accepts("text", "text/plain"));
        for kind in MediaKind::ALL {
            assert_eq!(MediaKind::from_name(kind.name()), Some(kind));
            assert!(kind.accepts(kind.default_mime()));
            assert!(kind.mime_types().count() >= 1);
        }
        assert_eq!(TYPES[TYPES_LISTED].0, "video/3gp");
    }

    #[test]
    fn animated_webp_is_told_from_its_vp8x_flag_and_placeholders_carry_it() {
        assert!(is_animated_webp(&placeholder("image/webp", true)));
        assert!(!is_animated_webp(&placeholder("image/webp", false)));
        assert!(!is_animated_webp(b"RIFF"));
        let webp = placeholder("image/webp", false);
        let size = u32::from_le_bytes([webp[4], webp[5], webp[6], webp[7]]);
        assert_eq!(size as usize, webp.len() - 8);
        assert!(placeholder("image/jpeg", false).starts_with(&[0xFF, 0xD8, 0xFF]));
        assert!(placeholder("application/pdf", false).starts_with(b"%PDF-"));
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
