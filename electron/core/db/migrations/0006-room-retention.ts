// Schema 6: retention per room. retention_days: raw clips of the room are deleted that many days
// after their import (with their outputs, thumbnails and the room's runs' cached frames), by the
// core at start-up and daily; NULL (the default) keeps them until someone deletes them.
export const sql = `
ALTER TABLE rooms ADD COLUMN retention_days INTEGER CHECK (retention_days IS NULL OR retention_days BETWEEN 1 AND 3650);
`;
