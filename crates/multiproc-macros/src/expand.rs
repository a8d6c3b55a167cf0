//! The expansion of `#[manager_type]`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, PathArguments,
    ReturnType, Type, Visibility,
};

/// What `#[manager_type(…)]` was given.
struct Options {
    typeid: Option<LitStr>,
    proxy: Option<Ident>,
    vis: Option<Visibility>,
}

fn parse_options(attr: TokenStream) -> syn::Result<Options> {
    let mut opts = Options {
        typeid: None,
        proxy: None,
        vis: None,
    };
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("typeid") {
            opts.typeid = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("proxy") {
            let s: LitStr = meta.value()?.parse()?;
            opts.proxy = Some(s.parse()?);
            Ok(())
        } else if meta.path.is_ident("vis") {
            let s: LitStr = meta.value()?.parse()?;
            opts.vis = Some(s.parse()?);
            Ok(())
        } else {
            Err(meta.error("expected `typeid = \"…\"`, `proxy = \"…\"` or `vis = \"…\"`"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(opts)
}

/// One method's argument: its name (for messages) and type.
struct Arg {
    name: Ident,
    ty: Type,
}

/// An exposed method.
struct Method {
    name: Ident,
    args: Vec<Arg>,
    /// The success type (`T` of `Result<T, E>`, or the return type).
    ok: Type,
    fallible: bool,
    /// `#[returns(T)]`: what the typed proxy converts the result into.
    returns: Option<Type>,
    /// `#[method_to_typeid("T")]`: the result becomes a new managed object of type `T`.
    new_object: Option<LitStr>,
    doc: Vec<syn::Attribute>,
}

/// The marker attributes of one method.
struct Markers {
    skip: bool,
    expose: bool,
    returns: Option<Type>,
    new_object: Option<LitStr>,
}

/// Removes the marker attributes this macro reads; says which were there.
fn take_markers(f: &mut ImplItemFn) -> syn::Result<Markers> {
    let (mut skip, mut expose, mut returns, mut new_object) = (false, false, None, None);
    let mut err = None;
    f.attrs.retain(|a| {
        if a.path().is_ident("skip") {
            skip = true;
            false
        } else if a.path().is_ident("expose") {
            expose = true;
            false
        } else if a.path().is_ident("returns") {
            match a.parse_args::<Type>() {
                Ok(t) => returns = Some(t),
                Err(e) => err = Some(e),
            }
            false
        } else if a.path().is_ident("method_to_typeid") {
            match a.parse_args::<LitStr>() {
                Ok(t) => new_object = Some(t),
                Err(e) => err = Some(e),
            }
            false
        } else {
            true
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(Markers {
            skip,
            expose,
            returns,
            new_object,
        }),
    }
}

fn args_of(f: &ImplItemFn) -> syn::Result<Vec<Arg>> {
    let mut out = Vec::new();
    for (i, input) in f.sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        if let Type::Reference(_) = *pt.ty {
            return Err(syn::Error::new(
                pt.ty.span(),
                "#[manager_type] methods take owned arguments (they arrive as values over the wire)",
            ));
        }
        let name = match &*pt.pat {
            Pat::Ident(p) => p.ident.clone(),
            _ => format_ident!("arg{}", i),
        };
        out.push(Arg {
            name,
            ty: (*pt.ty).clone(),
        });
    }
    Ok(out)
}

/// `Result<T, E>` ↦ `Some(T)`, by the last path segment's name.
fn result_ok(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &seg.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

fn unit() -> Type {
    syn::parse_quote!(())
}

/// What the generated code is about: the type, its typeid, the proxy's name and
/// visibility.
struct Target {
    self_ty: Type,
    typeid: LitStr,
    vis: Visibility,
    proxy: Ident,
}

/// The exposed constructor: its arguments, and whether it returns a `Result`.
type Ctor = (Vec<Arg>, bool);

/// Everything the generated code is made from.
struct Model {
    target: Target,
    methods: Vec<Method>,
    ctor: Option<Ctor>,
    /// The path the generated code names the manager crate by.
    krate: TokenStream,
}

pub(crate) fn expand(
    attr: TokenStream,
    item: TokenStream,
    krate: TokenStream,
) -> syn::Result<TokenStream> {
    let opts = parse_options(attr)?;
    let mut block: ItemImpl = syn::parse2(item)?;
    let target = target(opts, &block)?;
    let (methods, ctor) = collect_methods(&mut block)?;
    let model = Model {
        target,
        methods,
        ctor,
        krate,
    };
    let shared = shared_impl(&model);
    let proxy = proxy_type(&model);
    let conversions = proxy_conversions(&model);
    Ok(quote::quote_spanned! {Span::call_site()=>
        #block
        #shared
        #proxy
        #conversions
    })
}

/// Checks the `impl` block's form and settles the names the options leave open.
fn target(opts: Options, block: &ItemImpl) -> syn::Result<Target> {
    if block.trait_.is_some() {
        return Err(syn::Error::new(
            block.span(),
            "#[manager_type] goes on an inherent impl block (`impl T { … }`)",
        ));
    }
    if !block.generics.params.is_empty() {
        return Err(syn::Error::new(
            block.generics.span(),
            "#[manager_type] does not support generic types",
        ));
    }
    let self_ty = (*block.self_ty).clone();
    let Type::Path(tp) = &self_ty else {
        return Err(syn::Error::new(self_ty.span(), "expected a type name"));
    };
    let type_ident = tp
        .path
        .segments
        .last()
        .map(|s| s.ident.clone())
        .ok_or_else(|| syn::Error::new(self_ty.span(), "expected a type name"))?;
    let typeid = opts
        .typeid
        .unwrap_or_else(|| LitStr::new(&type_ident.to_string(), type_ident.span()));
    let vis = opts.vis.unwrap_or_else(|| syn::parse_quote!(pub));
    let proxy = opts
        .proxy
        .unwrap_or_else(|| format_ident!("{}Proxy", type_ident));
    Ok(Target {
        self_ty,
        typeid,
        vis,
        proxy,
    })
}

/// The exposed methods and the constructor of the block, their marker attributes
/// removed.
fn collect_methods(block: &mut ItemImpl) -> syn::Result<(Vec<Method>, Option<Ctor>)> {
    let mut methods = Vec::new();
    let mut ctor = None;
    for item in &mut block.items {
        let ImplItem::Fn(f) = item else { continue };
        let markers = take_markers(f)?;
        let has_self = matches!(f.sig.inputs.first(), Some(FnArg::Receiver(_)));
        if f.sig.ident == "new" && !has_self {
            let fallible = match &f.sig.output {
                ReturnType::Type(_, t) => result_ok(t).is_some(),
                ReturnType::Default => false,
            };
            ctor = Some((args_of(f)?, fallible));
            continue;
        }
        let underscore = f.sig.ident.unraw().to_string().starts_with('_');
        if markers.skip || !has_self || (underscore && !markers.expose) {
            continue;
        }
        methods.push(exposed_method(f, markers)?);
    }
    Ok((methods, ctor))
}

/// One exposed method, refused when it cannot be called through a proxy.
fn exposed_method(f: &ImplItemFn, markers: Markers) -> syn::Result<Method> {
    if let Some(FnArg::Receiver(r)) = f.sig.inputs.first() {
        if r.reference.is_none() {
            return Err(syn::Error::new(
                r.span(),
                "exposed methods take `&self` or `&mut self` (the object stays on the server)",
            ));
        }
    }
    if !f.sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            f.sig.generics.span(),
            "exposed methods cannot be generic (mark it #[skip])",
        ));
    }
    if ["create", "call", "id"].contains(&f.sig.ident.unraw().to_string().as_str()) {
        return Err(syn::Error::new(
            f.sig.ident.span(),
            "the typed proxy has a method of this name already (`create`, `call`, `id`): rename it, or #[skip] it",
        ));
    }
    let (ok, fallible) = match &f.sig.output {
        ReturnType::Default => (unit(), false),
        ReturnType::Type(_, t) => match result_ok(t) {
            Some(ok) => (ok, true),
            None => ((**t).clone(), false),
        },
    };
    Ok(Method {
        name: f.sig.ident.clone(),
        args: args_of(f)?,
        ok,
        fallible,
        returns: markers.returns,
        new_object: markers.new_object,
        doc: f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
    })
}

/// Checks the argument count, then binds each argument by name from `__args`.
fn decode_args(p: &TokenStream, fname: &str, args: &[Arg]) -> TokenStream {
    let n = args.len();
    let names: Vec<_> = args.iter().map(|a| &a.name).collect();
    let tys: Vec<_> = args.iter().map(|a| &a.ty).collect();
    let labels: Vec<_> = args.iter().map(|a| a.name.unraw().to_string()).collect();
    quote! {
        #p::arity(#fname, #n, __args.len())?;
        let mut __it = __args.into_iter();
        #( let #names: #tys = #p::arg(#fname, #labels, __it.next())?; )*
    }
}

/// `impl Shared for T`: construction from wire arguments, and dispatch by name.
fn shared_impl(model: &Model) -> TokenStream {
    let Model {
        target: Target {
            self_ty, typeid, ..
        },
        methods,
        ctor,
        krate,
    } = model;
    let p = quote!(#krate::typed);
    let new_objects = methods.iter().filter_map(|m| {
        let fname = m.name.unraw().to_string();
        m.new_object.as_ref().map(|t| quote!((#fname, #t)))
    });
    let new_body = match ctor {
        Some((args, fallible)) => {
            let d = decode_args(&p, "new", args);
            let names: Vec<_> = args.iter().map(|a| &a.name).collect();
            let call = quote!(<#self_ty>::new(#(#names),*));
            let call = if *fallible {
                quote!(#call.map_err(#p::method_error))
            } else {
                quote!(::core::result::Result::Ok(#call))
            };
            quote! { #d #call }
        }
        None => {
            let d = decode_args(&p, "new", &[]);
            quote! { #d ::core::result::Result::Ok(<#self_ty as ::core::default::Default>::default()) }
        }
    };
    let arms = methods.iter().map(|m| {
        let name = &m.name;
        let fname = name.unraw().to_string();
        let d = decode_args(&p, &fname, &m.args);
        let names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
        let call = quote!(self.#name(#(#names),*));
        let call = if m.fallible {
            quote!(#call.map_err(#p::method_error)?)
        } else {
            call
        };
        quote! {
            #fname => {
                #d
                ::core::result::Result::Ok(#p::ret(#call))
            }
        }
    });
    quote! {
        impl #krate::Shared for #self_ty {
            const TYPEID: &'static str = #typeid;
            const METHOD_TO_TYPEID: &'static [(&'static str, &'static str)] = &[#(#new_objects),*];

            fn new(__args: ::std::vec::Vec<#krate::Value>) -> ::core::result::Result<Self, #krate::RemoteError> {
                #new_body
            }

            fn call(
                &mut self,
                __method: &str,
                __args: ::std::vec::Vec<#krate::Value>,
            ) -> ::core::result::Result<#krate::Value, #krate::RemoteError> {
                // not expect: whether these fire depends on the user's `impl` block
                #[allow(unused_variables, unused_mut)]
                match __method {
                    #(#arms)*
                    _ => ::core::result::Result::Err(#p::no_method(#typeid, __method)),
                }
            }
        }
    }
}

/// The typed proxy's method for one exposed method.
fn proxy_method(m: &Method, vis: &Visibility, krate: &TokenStream) -> TokenStream {
    let name = &m.name;
    let fname = name.unraw().to_string();
    let names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
    let tys: Vec<_> = m.args.iter().map(|a| &a.ty).collect();
    let ok = m.returns.as_ref().unwrap_or(&m.ok);
    let doc = &m.doc;
    let fallback_doc = format!("Calls `{fname}` on the server's object.");
    let doc = if doc.is_empty() {
        quote!(#[doc = #fallback_doc])
    } else {
        quote!(#(#doc)*)
    };
    quote! {
        #doc
        ///
        /// # Errors
        /// The method's own error, a result of the wrong type, or the manager gone.
        #vis fn #name(&self, #(#names: #tys),*) -> ::core::result::Result<#ok, #krate::Error> {
            self.0.call::<#ok>(#fname, ::std::vec![#(#krate::Value::from(#names)),*])
        }
    }
}

/// The typed proxy: its struct, `create`, `call`, `id` and one method per exposed one.
fn proxy_type(model: &Model) -> TokenStream {
    let Model {
        target:
            Target {
                self_ty,
                typeid,
                vis,
                proxy,
            },
        methods,
        ctor,
        krate,
    } = model;
    let proxy_methods = methods.iter().map(|m| proxy_method(m, vis, krate));
    let (ctor_params, ctor_values) = match ctor {
        Some((args, _)) => {
            let names: Vec<_> = args.iter().map(|a| &a.name).collect();
            let tys: Vec<_> = args.iter().map(|a| &a.ty).collect();
            (
                quote!(#(, #names: #tys)*),
                quote!(#(#krate::Value::from(#names)),*),
            )
        }
        None => (quote!(), quote!()),
    };
    let proxy_doc = format!(
        "A typed proxy to a `{typeid}` object held by a manager (generated by `#[manager_type]`).",
        typeid = typeid.value()
    );
    let create_doc = format!(
        "Creates a `{}` on the manager's server (CPython's `manager.{}(…)`). The server must have it registered.",
        typeid.value(),
        typeid.value()
    );
    quote! {
        #[doc = #proxy_doc]
        #[derive(Clone)]
        #vis struct #proxy(#krate::Proxy<#self_ty>);

        impl #proxy {
            #[doc = #create_doc]
            ///
            /// # Errors
            /// `UnknownType` when the server has not registered it, the constructor's own
            /// error, or the manager gone.
            #vis fn create(manager: &#krate::Manager #ctor_params) -> ::core::result::Result<Self, #krate::Error> {
                manager
                    .create::<#self_ty>(::std::vec![#ctor_values])
                    .map(#proxy)
            }

            /// Calls `method` by name with dynamic arguments (what the typed methods do).
            ///
            /// # Errors
            /// As [`Proxy::call`](#krate::Proxy::call).
            #vis fn call<__R: #krate::FromValue>(
                &self,
                method: &str,
                args: impl #krate::Args,
            ) -> ::core::result::Result<__R, #krate::Error> {
                self.0.call::<__R>(method, args)
            }

            /// The object's id on its server.
            #vis fn id(&self) -> u64 {
                self.0.id()
            }

            #(#proxy_methods)*
        }
    }
}

/// The proxy's conversions to and from `Proxy<T>` and `Value`, its formatting and serde.
fn proxy_conversions(model: &Model) -> TokenStream {
    let Model {
        target: Target { self_ty, proxy, .. },
        krate,
        ..
    } = model;
    let serde = quote!(#krate::typed::serde);
    quote! {
        impl ::core::convert::From<#krate::Proxy<#self_ty>> for #proxy {
            fn from(p: #krate::Proxy<#self_ty>) -> Self {
                #proxy(p)
            }
        }

        impl ::core::convert::From<#proxy> for #krate::Proxy<#self_ty> {
            fn from(p: #proxy) -> Self {
                p.0
            }
        }

        impl ::core::fmt::Debug for #proxy {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl ::core::fmt::Display for #proxy {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::core::convert::From<&#proxy> for #krate::Value {
            fn from(p: &#proxy) -> Self {
                #krate::Value::from(&p.0)
            }
        }

        impl ::core::convert::From<#proxy> for #krate::Value {
            fn from(p: #proxy) -> Self {
                #krate::Value::from(&p.0)
            }
        }

        impl #serde::Serialize for #proxy {
            fn serialize<__S: #serde::Serializer>(&self, s: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                #serde::Serialize::serialize(&self.0, s)
            }
        }

        impl #krate::FromValue for #proxy {
            fn from_value(v: #krate::Value) -> ::core::result::Result<Self, #krate::TypeMismatch> {
                <#krate::Proxy<#self_ty> as #krate::FromValue>::from_value(v).map(#proxy)
            }
        }

        impl<'de> #serde::Deserialize<'de> for #proxy {
            fn deserialize<__D: #serde::Deserializer<'de>>(d: __D) -> ::core::result::Result<Self, __D::Error> {
                <#krate::Proxy<#self_ty> as #serde::Deserialize<'de>>::deserialize(d).map(#proxy)
            }
        }
    }
}
