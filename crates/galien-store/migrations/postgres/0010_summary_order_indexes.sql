-- Galien 0010: indexes in the order the patient summary reads (galien-store/src/patients/summary.rs).
-- A patient's appointments are read newest first, then by id (`ORDER BY a.scheduled_at DESC, a.id`):
-- the index of 0008 on (patient_id, scheduled_at) left the id's part of that order to a sort in a
-- temporary B-tree on every summary; this one gives the whole order. It also serves every search the
-- old one served (the same leading columns), which is dropped.
-- The current telemonitoring enrolment is the latest one not ended (`ORDER BY e.since DESC LIMIT 1`):
-- the unique index of 0007 (one open enrolment per programme) does not give that order either.

CREATE INDEX appointments_patient_latest ON appointments (patient_id, scheduled_at DESC, id);
DROP INDEX appointments_patient;

CREATE INDEX monitoring_enrolments_current ON monitoring_enrolments (patient_id, since)
    WHERE ended_at IS NULL;
