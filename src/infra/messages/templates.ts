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
} satisfies Record<string, Template>;

export type TemplateName = keyof typeof templates;

export function render(template: TemplateName, language: Language, params: Record<string, string>): Rendered {
  return templates[template][language](params);
}
