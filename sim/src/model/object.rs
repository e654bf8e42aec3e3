//! Graph objects by id: which kind of object an id names, read and deleted
//! through `GET|DELETE /{id}`. Each kind answers with its own [`Reply`]; an id
//! that names nothing is Graph's unknown object
//! (<https://developers.facebook.com/docs/graph-api/using-graph-api/error-handling>).

use super::id::PhoneNumberId;
use super::numbers::Fields;
use super::refusal::{Object, Refusal};
use super::time::SimTime;
use super::{Reply, World};

impl World {
    /// `GET /{id}`: the object the id names, with the `fields` asked for (a field
    /// its node type lacks is refused; templates read theirs in the answer).
    /// `phone_number_id` (the query's) must own a media id.
    pub(super) fn get_object(
        &self,
        now: SimTime,
        id: &str,
        fields: &Fields,
        phone_number_id: Option<&PhoneNumberId>,
    ) -> Result<Reply, Refusal> {
        if let Some(answer) = self.get_media_object(now, id, phone_number_id) {
            return answer;
        }
        if let Some(template) = self.templates.iter().find(|t| t.id == id) {
            return Ok(Reply::Template {
                template: Box::new(template.clone()),
                unix_now: self.unix_seconds(now),
            });
        }
        if let Some(reply) = self.get_number_or_waba(id, fields) {
            return reply;
        }
        Err(Refusal::not_found(Object::Template, id))
    }

    /// `DELETE /{id}`: deletes the object the id names, where Graph deletes that
    /// kind by id.
    pub(super) fn delete_object(
        &mut self,
        id: &str,
        phone_number_id: Option<&PhoneNumberId>,
    ) -> Result<Reply, Refusal> {
        if let Some(answer) = self.delete_media_object(id, phone_number_id) {
            return answer;
        }
        Err(Refusal::not_found(Object::Template, id))
    }
}
