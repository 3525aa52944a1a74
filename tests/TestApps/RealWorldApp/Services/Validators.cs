using FluentValidation;
using RealWorldApp.Data;

namespace RealWorldApp.Services;

public sealed class CreatePostValidator : AbstractValidator<CreatePostRequest>
{
    public CreatePostValidator()
    {
        RuleFor(p => p.Title).NotEmpty().MaximumLength(200);
        RuleFor(p => p.Content).NotEmpty().MinimumLength(3);
    }
}

public sealed class CreateBlogValidator : AbstractValidator<CreateBlogRequest>
{
    public CreateBlogValidator() => RuleFor(b => b.Name).NotEmpty().MaximumLength(100);
}
