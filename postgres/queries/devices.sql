-- name: CreateDevice :one
INSERT INTO devices (serial_number, name, location, owner_id)
VALUES (@serial_number, @name, @location, sqlc.narg(owner_id))
RETURNING *;

-- name: FindDeviceByID :one
SELECT * FROM devices WHERE id = @id;

-- name: DeviceIsActive :one
SELECT is_active FROM devices WHERE id = @id;

-- FindDevices is one page in name order with the total of all matching
-- devices (a window count: one statement, one snapshot).
-- name: FindDevices :many
SELECT sqlc.embed(devices), count(*) OVER () AS total
FROM devices
WHERE sqlc.narg(is_active)::boolean IS NULL OR is_active = sqlc.narg(is_active)
ORDER BY name, id
LIMIT @row_limit OFFSET @row_offset;

-- CountDevices gives the total when the page is past the last device.
-- name: CountDevices :one
SELECT count(*) FROM devices
WHERE sqlc.narg(is_active)::boolean IS NULL OR is_active = sqlc.narg(is_active);

-- name: UpdateDevice :one
UPDATE devices SET
    name       = coalesce(sqlc.narg(name), name),
    location   = coalesce(sqlc.narg(location), location),
    owner_id   = coalesce(sqlc.narg(owner_id), owner_id),
    is_active  = coalesce(sqlc.narg(is_active), is_active),
    updated_at = now()
WHERE id = @id
RETURNING *;
