// Schema 2: each room's working size (the short side f_A works at; NULL = auto, which follows the
// people measured in the room's clips), its output size (the encoded video at the working size or
// scaled back to the source's size), and the person-height measurement auto uses, with when and on
// what it was made. Existing rooms become auto / working and unmeasured. An app-wide working size
// stored by an older version below the new minimum (112) is raised to it; other values are kept.
export const sql = `
ALTER TABLE rooms ADD COLUMN working_size INTEGER CHECK (working_size IS NULL OR working_size BETWEEN 112 AND 2160);
ALTER TABLE rooms ADD COLUMN output_size TEXT NOT NULL DEFAULT 'working' CHECK (output_size IN ('working', 'source'));
ALTER TABLE rooms ADD COLUMN person_height_fraction REAL CHECK (person_height_fraction IS NULL OR (person_height_fraction > 0 AND person_height_fraction <= 1));
ALTER TABLE rooms ADD COLUMN person_height_measured_at TEXT;
ALTER TABLE rooms ADD COLUMN person_height_frames INTEGER;
ALTER TABLE rooms ADD COLUMN person_height_files INTEGER;
ALTER TABLE rooms ADD COLUMN person_height_persons INTEGER;

UPDATE settings SET value = '112'
  WHERE key = 'inputSize' AND json_valid(value) AND json_type(value) IN ('integer', 'real') AND CAST(value AS REAL) < 112;
UPDATE settings SET value = '2160'
  WHERE key = 'inputSize' AND json_valid(value) AND json_type(value) IN ('integer', 'real') AND CAST(value AS REAL) > 2160;
`;
