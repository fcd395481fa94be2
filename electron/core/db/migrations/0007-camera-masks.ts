// Schema 7: the camera registry. masks: the camera's privacy masks as JSON, polygons of [x, y]
// points in normalized frame coordinates (0..1), blacked out before anything else sees a frame;
// updated_at: the last change. A camera's source is stored sealed by the vault (stream URLs carry
// credentials). clips.mask_hash: the masks a camera's clip was burned with at import (sha256 of
// their JSON; NULL: imported without masks): masks changed later do not change stored clips.
export const sql = `
ALTER TABLE cameras ADD COLUMN masks TEXT NOT NULL DEFAULT '[]';
ALTER TABLE cameras ADD COLUMN updated_at TEXT;
ALTER TABLE clips ADD COLUMN mask_hash TEXT;
`;
