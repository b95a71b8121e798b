-- What the real daemon answers when a lookup fails or a peer leaves abruptly: a SERVFAIL domain
-- is deferred at RCPT (SMFIR_REPLYCODE 451 4.4.3, never delivered untagged), an abrupt disconnect
-- in the middle of the headers costs nothing, and the next connection is served normally.
dofile(lua_dir .. "daemon-lib.lua")

open()
mt.macro(conn, SMFIC_MAIL, "i", "MTQIDF")
send("mailfrom", SMFIR_CONTINUE, nil, mt.mailfrom, "<sender@client.example>")
mt.macro(conn, SMFIC_RCPT, "{rcpt_mailer}", "smtp")
send("rcptto broken", SMFIR_REPLYCODE, nil, mt.rcptto, "<x@broken.example>")
mt.macro(conn, SMFIC_RCPT, "{rcpt_mailer}", "smtp")
send("rcptto pinned", SMFIR_CONTINUE, nil, mt.rcptto, "<y@pinned.example>")
send("header", SMFIR_CONTINUE, nil, mt.header, "Subject", "x")
-- Gone in the middle of the headers, without QUIT.
mt.disconnect(conn, false)

open()
mt.macro(conn, SMFIC_MAIL, "i", "MTQIDG")
send("mailfrom again", SMFIR_CONTINUE, nil, mt.mailfrom, "<sender@client.example>")
mt.macro(conn, SMFIC_RCPT, "{rcpt_mailer}", "smtp")
send("rcptto again", SMFIR_CONTINUE, nil, mt.rcptto, "<y@pinned.example>")
send("header again", SMFIR_CONTINUE, nil, mt.header, "Subject", "y")
send("eom", SMFIR_CONTINUE, nil, mt.eom)
if not mt.eom_check(conn, MT_HDRADD, "X-Onion-Route", "smtptor:[" .. onion_pinned .. "]:25") then fail("route missing on the next connection") end
mt.disconnect(conn)
