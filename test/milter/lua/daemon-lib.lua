-- Shared by the daemon-*.lua scripts (loaded with dofile from -D lua_dir=...): the connection
-- `conn`, opened and negotiated by open(); send() runs one event and checks the filter's reply,
-- skipping an event the filter negotiated away (miltertest raises an error when a script sends
-- one, as an MTA must not send it); fail() echoes before raising, because Debian's miltertest
-- exits 1 without printing a script's error.
conn = nil

function fail(msg)
  mt.echo("FAIL: " .. msg)
  error(msg)
end

function send(step, want, skip, f, ...)
  if skip ~= nil and mt.test_option(conn, skip) then return end
  local ok, err = pcall(f, conn, ...)
  if not ok or err ~= nil then fail(step .. ": " .. tostring(err)) end
  local got = mt.getreply(conn)
  if got ~= want then fail(step .. ": reply " .. tostring(got) .. ", expected " .. tostring(want)) end
end

function open()
  conn = mt.connect("inet:" .. port .. "@127.0.0.1")
  if conn == nil then fail("mt.connect() failed") end
  if mt.negotiate(conn, nil, nil, nil) ~= nil then fail("mt.negotiate() failed") end
end
