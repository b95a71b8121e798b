-- Several messages on one connection to the real daemon, each routed on its own: the pinned
-- onion, then the SRV onion, then a clearnet message (no header, forged copy still deleted), an
-- aborted one, and a last one after the abort; then QUIT. Events the filter negotiated away
-- (CONNECT, HELO, DATA, EOH, BODY) are skipped, as an MTA does (see daemon-transaction.lua).
dofile(lua_dir .. "daemon-lib.lua")

open()
send("conninfo", SMFIR_CONTINUE, SMFIP_NOCONNECT, mt.conninfo, "client.example", "192.0.2.7")
send("helo", SMFIR_CONTINUE, SMFIP_NOHELO, mt.helo, "client.example")

local function envelope(n, rcpt)
  mt.macro(conn, SMFIC_MAIL, "i", "MTQID" .. n)
  send("mailfrom " .. n, SMFIR_CONTINUE, nil, mt.mailfrom, "<sender@client.example>")
  mt.macro(conn, SMFIC_RCPT, "{rcpt_mailer}", "smtp")
  send("rcptto " .. n, SMFIR_CONTINUE, nil, mt.rcptto, rcpt)
end

local function message(n, rcpt, forged)
  envelope(n, rcpt)
  send("data " .. n, SMFIR_CONTINUE, SMFIP_NODATA, mt.data)
  send("header " .. n, SMFIR_CONTINUE, nil, mt.header, "Subject", "message " .. n)
  if forged then send("forged " .. n, SMFIR_CONTINUE, nil, mt.header, "X-Onion-Route", "smtptor:[forged.onion]:25") end
  send("eoh " .. n, SMFIR_CONTINUE, SMFIP_NOEOH, mt.eoh)
  send("body " .. n, SMFIR_CONTINUE, SMFIP_NOBODY, mt.bodystring, "body " .. n .. "\r\n")
  send("eom " .. n, SMFIR_CONTINUE, nil, mt.eom)
end

local pinned = "smtptor:[" .. onion_pinned .. "]:25"
local srv = "smtptor:[" .. onion_srv .. "]:25"

message(1, "<a@pinned.example>", true)
if not mt.eom_check(conn, MT_HDRADD, "X-Onion-Route", pinned) then fail("message 1: pinned route missing") end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Onion-Route") then fail("message 1: forged copy not deleted") end

message(2, "<b@srv.example>", false)
if not mt.eom_check(conn, MT_HDRADD, "X-Onion-Route", srv) then fail("message 2: SRV route missing") end
if mt.eom_check(conn, MT_HDRDELETE) then fail("message 2: a header was deleted, none was forged") end

message(3, "<c@clearnet.example>", true)
if mt.eom_check(conn, MT_HDRADD) then fail("message 3: a clearnet message got a route header") end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Onion-Route") then fail("message 3: forged copy not deleted") end

-- Aborted after RCPT (the SMTP client sent RSET): nothing of it may leak into the next message.
envelope(4, "<d@pinned.example>")
if mt.abort(conn) ~= nil then fail("mt.abort() failed") end

message(5, "<e@srv.example>", false)
if not mt.eom_check(conn, MT_HDRADD, "X-Onion-Route", srv) then fail("message 5: route missing after the abort") end
if mt.eom_check(conn, MT_HDRADD, "X-Onion-Route", pinned) then fail("message 5: the aborted message's route leaked") end

mt.disconnect(conn)
