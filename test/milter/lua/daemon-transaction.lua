-- One transaction through the real daemon's routing filter (started by miltertest.test.ts with a
-- pin map and a DNS fixture; -D port=N onion_pinned=... onion_srv=...): negotiation, MAIL and RCPT
-- with macros, headers with two forged routing headers, end of message. The filter negotiates
-- away CONNECT, HELO, DATA, EOH and BODY: miltertest raises an error when a script sends an event
-- the filter declined, so those are sent only if offered (and the negotiation test says they are not).
dofile(lua_dir .. "daemon-lib.lua")

open()
for name, want in pairs({ ADDHDRS = true, CHGHDRS = true, CHGBODY = false, ADDRCPT = false, DELRCPT = false, QUARANTINE = false, CHGFROM = false }) do
  if mt.test_action(conn, _G["SMFIF_" .. name]) ~= want then fail("action SMFIF_" .. name .. " should be " .. tostring(want)) end
end
for name, want in pairs({ NOCONNECT = true, NOHELO = true, NODATA = true, NOEOH = true, NOBODY = true, NOUNKNOWN = true,
                          NOMAIL = false, NORCPT = false, NOHDRS = false, NR_MAIL = true, NR_HDR = true, NR_RCPT = false }) do
  if mt.test_option(conn, _G["SMFIP_" .. name]) ~= want then fail("option SMFIP_" .. name .. " should be " .. tostring(want)) end
end

mt.macro(conn, SMFIC_CONNECT, "j", "mx.example", "{daemon_name}", "mx.example", "_", "client.example [192.0.2.7]")
send("conninfo", SMFIR_CONTINUE, SMFIP_NOCONNECT, mt.conninfo, "client.example", "192.0.2.7")
send("helo", SMFIR_CONTINUE, SMFIP_NOHELO, mt.helo, "client.example")
mt.macro(conn, SMFIC_MAIL, "i", "MTQID1", "{mail_addr}", "sender@client.example")
send("mailfrom", SMFIR_CONTINUE, nil, mt.mailfrom, "<sender@client.example>", "SIZE=100")
mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", "alice@pinned.example", "{rcpt_mailer}", "smtp")
send("rcptto pinned", SMFIR_CONTINUE, nil, mt.rcptto, "<alice@pinned.example>")
-- Same route (the pin, whatever the case): accepted into the same message.
mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", "bob@PINNED.example", "{rcpt_mailer}", "smtp")
send("rcptto pinned again", SMFIR_CONTINUE, nil, mt.rcptto, "<bob@PINNED.example>")
-- Another onion (SRV) and the clearnet: another route, deferred with 452 4.5.3 (mixed_routes: defer).
mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", "carol@srv.example", "{rcpt_mailer}", "smtp")
send("rcptto srv", SMFIR_REPLYCODE, nil, mt.rcptto, "<carol@srv.example>")
mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", "dave@clearnet.example", "{rcpt_mailer}", "smtp")
send("rcptto clearnet", SMFIR_REPLYCODE, nil, mt.rcptto, "<dave@clearnet.example>")
-- A local delivery is never looked up, but this message goes to the onion as a whole (FILTER):
-- the local recipient is split off (452) like any other route.
mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", "root@mx.example", "{rcpt_mailer}", "local")
send("rcptto local", SMFIR_REPLYCODE, nil, mt.rcptto, "<root@mx.example>")

send("data", SMFIR_CONTINUE, SMFIP_NODATA, mt.data)
send("header From", SMFIR_CONTINUE, nil, mt.header, "From", "sender@client.example")
send("header forged", SMFIR_CONTINUE, nil, mt.header, "X-Onion-Route", "smtptor:[forged.onion]:25")
send("header forged again", SMFIR_CONTINUE, nil, mt.header, "x-onion-route", "another forgery")
send("eoh", SMFIR_CONTINUE, SMFIP_NOEOH, mt.eoh)
send("body", SMFIR_CONTINUE, SMFIP_NOBODY, mt.bodystring, "hello\r\n")
send("eom", SMFIR_CONTINUE, nil, mt.eom)

local route = "smtptor:[" .. onion_pinned .. "]:25"
if not mt.eom_check(conn, MT_HDRADD, "X-Onion-Route", route) then fail("X-Onion-Route " .. route .. " was not added") end
if mt.getheader(conn, "X-Onion-Route", 0) ~= route then fail("the added header has another value") end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Onion-Route") then fail("the forged X-Onion-Route copies were not deleted") end
if mt.eom_check(conn, MT_HDRINSERT) or mt.eom_check(conn, MT_BODYCHANGE) or mt.eom_check(conn, MT_QUARANTINE) or mt.eom_check(conn, MT_RCPTADD, "<root@mx.example>") then
  fail("unexpected end-of-message actions")
end

mt.disconnect(conn)
