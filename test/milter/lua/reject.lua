-- A rejected recipient: the filter rejects RCPT <reject@...>; the next recipient is accepted.
local conn = mt.connect("inet:" .. port .. "@127.0.0.1")
if conn == nil then error("mt.connect() failed") end

if mt.mailfrom(conn, "<sender@example.org>") ~= nil then error("mt.mailfrom() failed") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("mailfrom: unexpected reply") end
if mt.rcptto(conn, "<reject@onion.example>") ~= nil then error("mt.rcptto() failed") end
if mt.getreply(conn) ~= SMFIR_REJECT then error("rcptto: expected SMFIR_REJECT") end
if mt.rcptto(conn, "<bob@onion.example>") ~= nil then error("mt.rcptto() failed") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("second rcptto: expected SMFIR_CONTINUE") end

mt.disconnect(conn)
