export type Language = 'fr' | 'en' | 'es';
export const languages: readonly Language[] = ['fr', 'en', 'es'];

interface Rendered {
  subject: string;
  body: string;
}

type Template = Record<Language, (p: Record<string, string>) => Rendered>;

/** Message templates in fr, en and es; parameters are plain strings already safe for text mail. */
export const templates = {
  email_verification: {
    en: (p) => ({
      subject: 'Confirm your email address',
      body: `Hello ${p.first_name},\n\nConfirm your email address to activate your account:\n${p.link}\n\nThis link is valid for 24 hours. If you did not create an account, ignore this message.`,
    }),
    fr: (p) => ({
      subject: 'Confirmez votre adresse e-mail',
      body: `Bonjour ${p.first_name},\n\nConfirmez votre adresse e-mail pour activer votre compte :\n${p.link}\n\nCe lien est valable 24 heures. Si vous n'avez pas créé de compte, ignorez ce message.`,
    }),
    es: (p) => ({
      subject: 'Confirme su dirección de correo electrónico',
      body: `Hola ${p.first_name}:\n\nConfirme su dirección de correo para activar su cuenta:\n${p.link}\n\nEste enlace es válido durante 24 horas. Si no ha creado una cuenta, ignore este mensaje.`,
    }),
  },
  account_exists: {
    en: (p) => ({
      subject: 'Someone tried to register with your email',
      body: `Hello ${p.first_name},\n\nSomeone tried to create an account with this email address, which already has one. If it was you, sign in or reset your password:\n${p.link}\n\nOtherwise you can ignore this message.`,
    }),
    fr: (p) => ({
      subject: "Tentative d'inscription avec votre adresse",
      body: `Bonjour ${p.first_name},\n\nQuelqu'un a essayé de créer un compte avec cette adresse, qui en possède déjà un. Si c'était vous, connectez-vous ou réinitialisez votre mot de passe :\n${p.link}\n\nSinon, ignorez ce message.`,
    }),
    es: (p) => ({
      subject: 'Alguien intentó registrarse con su correo',
      body: `Hola ${p.first_name}:\n\nAlguien intentó crear una cuenta con esta dirección, que ya tiene una. Si fue usted, inicie sesión o restablezca su contraseña:\n${p.link}\n\nSi no, ignore este mensaje.`,
    }),
  },
  password_reset: {
    en: (p) => ({
      subject: 'Reset your password',
      body: `Hello ${p.first_name},\n\nTo choose a new password, open this link:\n${p.link}\n\nThis link is valid for one hour and works once. If you did not ask for it, ignore this message: your password has not changed.`,
    }),
    fr: (p) => ({
      subject: 'Réinitialisez votre mot de passe',
      body: `Bonjour ${p.first_name},\n\nPour choisir un nouveau mot de passe, ouvrez ce lien :\n${p.link}\n\nCe lien est valable une heure et ne sert qu'une fois. Si vous n'avez rien demandé, ignorez ce message : votre mot de passe n'a pas changé.`,
    }),
    es: (p) => ({
      subject: 'Restablezca su contraseña',
      body: `Hola ${p.first_name}:\n\nPara elegir una nueva contraseña, abra este enlace:\n${p.link}\n\nEste enlace es válido durante una hora y solo sirve una vez. Si no lo ha pedido, ignore este mensaje: su contraseña no ha cambiado.`,
    }),
  },
  password_changed: {
    en: (p) => ({
      subject: 'Your password was changed',
      body: `Hello ${p.first_name},\n\nThe password of your account was changed on ${p.time} (UTC).\n\nIf it was not you, reset your password at once:\n${p.link}`,
    }),
    fr: (p) => ({
      subject: 'Votre mot de passe a été modifié',
      body: `Bonjour ${p.first_name},\n\nLe mot de passe de votre compte a été modifié le ${p.time} (UTC).\n\nSi ce n'était pas vous, réinitialisez-le tout de suite :\n${p.link}`,
    }),
    es: (p) => ({
      subject: 'Su contraseña ha cambiado',
      body: `Hola ${p.first_name}:\n\nLa contraseña de su cuenta se cambió el ${p.time} (UTC).\n\nSi no fue usted, restablézcala de inmediato:\n${p.link}`,
    }),
  },
  mfa_enabled: {
    en: (p) => ({
      subject: 'Two-factor authentication is on',
      body: `Hello ${p.first_name},\n\nTwo-factor authentication was turned on for your account on ${p.time} (UTC). Keep your backup codes somewhere safe.\n\nIf it was not you, reset your password at once:\n${p.link}`,
    }),
    fr: (p) => ({
      subject: 'La double authentification est activée',
      body: `Bonjour ${p.first_name},\n\nLa double authentification a été activée sur votre compte le ${p.time} (UTC). Gardez vos codes de secours en lieu sûr.\n\nSi ce n'était pas vous, réinitialisez votre mot de passe tout de suite :\n${p.link}`,
    }),
    es: (p) => ({
      subject: 'La autenticación en dos pasos está activada',
      body: `Hola ${p.first_name}:\n\nSe activó la autenticación en dos pasos en su cuenta el ${p.time} (UTC). Guarde sus códigos de respaldo en un lugar seguro.\n\nSi no fue usted, restablezca su contraseña de inmediato:\n${p.link}`,
    }),
  },
  mfa_disabled: {
    en: (p) => ({
      subject: 'Two-factor authentication is off',
      body: `Hello ${p.first_name},\n\nTwo-factor authentication was turned off for your account on ${p.time} (UTC).\n\nIf it was not you, reset your password at once:\n${p.link}`,
    }),
    fr: (p) => ({
      subject: 'La double authentification est désactivée',
      body: `Bonjour ${p.first_name},\n\nLa double authentification a été désactivée sur votre compte le ${p.time} (UTC).\n\nSi ce n'était pas vous, réinitialisez votre mot de passe tout de suite :\n${p.link}`,
    }),
    es: (p) => ({
      subject: 'La autenticación en dos pasos está desactivada',
      body: `Hola ${p.first_name}:\n\nSe desactivó la autenticación en dos pasos en su cuenta el ${p.time} (UTC).\n\nSi no fue usted, restablezca su contraseña de inmediato:\n${p.link}`,
    }),
  },
  new_device_sign_in: {
    en: (p) => ({
      subject: 'New sign-in to your account',
      body: `Hello ${p.first_name},\n\nYour account was signed in to from a new device on ${p.time} (UTC):\n  Device: ${p.device}\n  IP address: ${p.ip}\n\nIf it was you, there is nothing to do. Otherwise, reset your password at once and end that session:\n${p.link}`,
    }),
    fr: (p) => ({
      subject: 'Nouvelle connexion à votre compte',
      body: `Bonjour ${p.first_name},\n\nUne connexion à votre compte a eu lieu depuis un nouvel appareil le ${p.time} (UTC) :\n  Appareil : ${p.device}\n  Adresse IP : ${p.ip}\n\nSi c'était vous, il n'y a rien à faire. Sinon, réinitialisez votre mot de passe tout de suite et fermez cette session :\n${p.link}`,
    }),
    es: (p) => ({
      subject: 'Nuevo inicio de sesión en su cuenta',
      body: `Hola ${p.first_name}:\n\nSe inició sesión en su cuenta desde un dispositivo nuevo el ${p.time} (UTC):\n  Dispositivo: ${p.device}\n  Dirección IP: ${p.ip}\n\nSi fue usted, no tiene que hacer nada. Si no, restablezca su contraseña de inmediato y cierre esa sesión:\n${p.link}`,
    }),
  },
  account_locked: {
    en: (p) => ({
      subject: 'Your account is temporarily locked',
      body: `Hello ${p.first_name},\n\nAfter too many failed sign-in attempts, your account is locked until ${p.until} (UTC). If it was not you, someone may be guessing your password: once the lock ends, consider changing it:\n${p.link}`,
    }),
    fr: (p) => ({
      subject: 'Votre compte est temporairement verrouillé',
      body: `Bonjour ${p.first_name},\n\nAprès trop de tentatives de connexion échouées, votre compte est verrouillé jusqu'au ${p.until} (UTC). Si ce n'était pas vous, quelqu'un essaie peut-être de deviner votre mot de passe : une fois le verrouillage levé, pensez à le changer :\n${p.link}`,
    }),
    es: (p) => ({
      subject: 'Su cuenta está bloqueada temporalmente',
      body: `Hola ${p.first_name}:\n\nTras demasiados intentos fallidos de inicio de sesión, su cuenta está bloqueada hasta el ${p.until} (UTC). Si no fue usted, alguien podría estar intentando adivinar su contraseña: cuando termine el bloqueo, considere cambiarla:\n${p.link}`,
    }),
  },
  // SMS texts (no subject): short, and never more than the code or the facts needed.
  phone_code: {
    en: (p) => ({ subject: '', body: `Your verification code is ${p.code}. It expires in 15 minutes. Never share it with anyone.` }),
    fr: (p) => ({ subject: '', body: `Votre code de vérification est ${p.code}. Il expire dans 15 minutes. Ne le communiquez à personne.` }),
    es: (p) => ({ subject: '', body: `Su código de verificación es ${p.code}. Caduca en 15 minutos. No lo comparta con nadie.` }),
  },
  new_device_sign_in_sms: {
    en: (p) => ({ subject: '', body: `New sign-in to your account on ${p.time} UTC from ${p.device} (${p.ip}). Not you? End that session: ${p.link}` }),
    fr: (p) => ({ subject: '', body: `Nouvelle connexion à votre compte le ${p.time} UTC depuis ${p.device} (${p.ip}). Pas vous ? Fermez cette session : ${p.link}` }),
    es: (p) => ({ subject: '', body: `Nuevo inicio de sesión en su cuenta el ${p.time} UTC desde ${p.device} (${p.ip}). ¿No fue usted? Cierre esa sesión: ${p.link}` }),
  },
  mfa_enabled_sms: {
    en: (p) => ({ subject: '', body: `Two-factor authentication was turned on for your account on ${p.time} UTC. Not you? ${p.link}` }),
    fr: (p) => ({ subject: '', body: `La double authentification a été activée sur votre compte le ${p.time} UTC. Pas vous ? ${p.link}` }),
    es: (p) => ({ subject: '', body: `Se activó la autenticación en dos pasos en su cuenta el ${p.time} UTC. ¿No fue usted? ${p.link}` }),
  },
  mfa_disabled_sms: {
    en: (p) => ({ subject: '', body: `Two-factor authentication was turned off for your account on ${p.time} UTC. Not you? ${p.link}` }),
    fr: (p) => ({ subject: '', body: `La double authentification a été désactivée sur votre compte le ${p.time} UTC. Pas vous ? ${p.link}` }),
    es: (p) => ({ subject: '', body: `Se desactivó la autenticación en dos pasos en su cuenta el ${p.time} UTC. ¿No fue usted? ${p.link}` }),
  },
  organization_invitation: {
    en: (p) => ({
      subject: `${p.inviter} invites you to join ${p.organization}`,
      body: `Hello,\n\n${p.inviter} invites you to join ${p.organization} as ${p.role}. To accept, sign in (or create your account) with this email address and open:\n${p.link}\n\nThe invitation is valid for 7 days and works once. If you do not know ${p.inviter}, ignore this message.`,
    }),
    fr: (p) => ({
      subject: `${p.inviter} vous invite à rejoindre ${p.organization}`,
      body: `Bonjour,\n\n${p.inviter} vous invite à rejoindre ${p.organization} en tant que ${p.role}. Pour accepter, connectez-vous (ou créez votre compte) avec cette adresse e-mail et ouvrez :\n${p.link}\n\nL'invitation est valable 7 jours et ne sert qu'une fois. Si vous ne connaissez pas ${p.inviter}, ignorez ce message.`,
    }),
    es: (p) => ({
      subject: `${p.inviter} le invita a unirse a ${p.organization}`,
      body: `Hola:\n\n${p.inviter} le invita a unirse a ${p.organization} como ${p.role}. Para aceptar, inicie sesión (o cree su cuenta) con esta dirección de correo y abra:\n${p.link}\n\nLa invitación es válida durante 7 días y solo sirve una vez. Si no conoce a ${p.inviter}, ignore este mensaje.`,
    }),
  },
  impersonation_started: {
    en: (p) => ({
      subject: 'An administrator opened a session on your account',
      body: `Hello ${p.first_name},\n\nOn ${p.time} (UTC) an administrator opened a session on your account, to act as you until ${p.until} (UTC) at the latest. The reason given:\n  ${p.reason}\n\nThis session cannot change your password, email or two-factor settings. It is marked in your list of sessions, where you can end it.`,
    }),
    fr: (p) => ({
      subject: 'Un administrateur a ouvert une session sur votre compte',
      body: `Bonjour ${p.first_name},\n\nLe ${p.time} (UTC), un administrateur a ouvert une session sur votre compte pour agir en votre nom, jusqu'au ${p.until} (UTC) au plus tard. Motif indiqué :\n  ${p.reason}\n\nCette session ne peut modifier ni votre mot de passe, ni votre adresse e-mail, ni votre double authentification. Elle est signalée dans la liste de vos sessions, où vous pouvez la fermer.`,
    }),
    es: (p) => ({
      subject: 'Un administrador abrió una sesión en su cuenta',
      body: `Hola ${p.first_name}:\n\nEl ${p.time} (UTC) un administrador abrió una sesión en su cuenta para actuar en su nombre, como máximo hasta el ${p.until} (UTC). Motivo indicado:\n  ${p.reason}\n\nEsta sesión no puede cambiar su contraseña, su correo ni la autenticación en dos pasos. Aparece marcada en su lista de sesiones, donde puede cerrarla.`,
    }),
  },
} satisfies Record<string, Template>;

export type TemplateName = keyof typeof templates;

export function render(template: TemplateName, language: Language, params: Record<string, string>): Rendered {
  return templates[template][language](params);
}
