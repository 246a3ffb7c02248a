// Collection pre-request script: when the 2FA flow has stored a TOTP secret, compute the codes
// its requests send, with CryptoJS (built into Postman and Newman), per RFC 6238 (SHA-1, 6 digits,
// 30 s). totp_now is the current step's code; totp_next is the next step's, which the server
// accepts (one step of tolerance) even when totp_now was already used in this step.
(function () {
    const secret = pm.collectionVariables.get("totp_secret");
    if (!secret) return;
    const CryptoJS = require("crypto-js");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bits = "";
    secret.replace(/=+$/, "").toUpperCase().split("").forEach(function (c) {
        bits += ("00000" + alphabet.indexOf(c).toString(2)).slice(-5);
    });
    let keyHex = "";
    for (let i = 0; i + 8 <= bits.length; i += 8) keyHex += ("0" + parseInt(bits.substr(i, 8), 2).toString(16)).slice(-2);
    function code(step) {
        const counter = CryptoJS.enc.Hex.parse(("0000000000000000" + step.toString(16)).slice(-16));
        const mac = CryptoJS.HmacSHA1(counter, CryptoJS.enc.Hex.parse(keyHex)).toString(CryptoJS.enc.Hex);
        const offset = parseInt(mac.slice(-1), 16);
        const value = (parseInt(mac.substr(offset * 2, 8), 16) & 0x7fffffff) % 1000000;
        return ("000000" + value).slice(-6);
    }
    const step = Math.floor(Date.now() / 1000 / 30);
    pm.collectionVariables.set("totp_now", code(step));
    pm.collectionVariables.set("totp_next", code(step + 1));
})();
