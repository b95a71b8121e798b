-- A full transaction: the filter deletes the inbound X-Forged header and adds X-Onion-Route
-- carrying the queue id macro. Run by test/milter/miltertest.test.ts with -D port=N.
local conn = mt.connect("inet:" .. port .. "@127.0.0.1")
if conn == nil then error("mt.connect() failed") end

local function expect(step, err, want)
  if err ~= nil then error(step .. " failed: " .. err) end
  if mt.getreply(conn) ~= want then error(step .. ": unexpected reply") end
end

expect("conninfo", mt.conninfo(conn, "client.example", "127.0.0.1"), SMFIR_CONTINUE)
expect("helo", mt.helo(conn, "client.example"), SMFIR_CONTINUE)
mt.macro(conn, SMFIC_MAIL, "i", "MT-QID", "{mail_addr}", "sender@example.org")
expect("mailfrom", mt.mailfrom(conn, "<sender@example.org>", "SIZE=100"), SMFIR_CONTINUE)
expect("rcptto", mt.rcptto(conn, "<bob@onion.example>"), SMFIR_CONTINUE)
expect("header From", mt.header(conn, "From", "sender@example.org"), SMFIR_CONTINUE)
expect("header X-Forged", mt.header(conn, "X-Forged", "evil"), SMFIR_CONTINUE)
expect("eoh", mt.eoh(conn), SMFIR_CONTINUE)
expect("body", mt.bodystring(conn, "hello\r\n"), SMFIR_CONTINUE)
expect("eom", mt.eom(conn), SMFIR_CONTINUE)

if not mt.eom_check(conn, MT_HDRADD, "X-Onion-Route", "smtptor:[x.onion]:25 MT-QID") then
  error("X-Onion-Route was not added with the expected value")
end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Forged") then
  error("X-Forged was not deleted")
end
if mt.eom_check(conn, MT_RCPTADD, "<nobody@example.org>") then
  error("unexpected recipient added")
end

mt.disconnect(conn)
