-- A throwing hook: the filter's rcptTo hook throws for <throw@...>, which must give SMFIR_TEMPFAIL.
local conn = mt.connect("inet:" .. port .. "@127.0.0.1")
if conn == nil then error("mt.connect() failed") end

if mt.mailfrom(conn, "<sender@example.org>") ~= nil then error("mt.mailfrom() failed") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("mailfrom: unexpected reply") end
if mt.rcptto(conn, "<throw@onion.example>") ~= nil then error("mt.rcptto() failed") end
if mt.getreply(conn) ~= SMFIR_TEMPFAIL then error("rcptto: expected SMFIR_TEMPFAIL") end

mt.disconnect(conn)
